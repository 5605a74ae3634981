"""``hololoom mcp`` as a real subprocess, driven by the official SDK's own client session."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters, stdio_client  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _data(result) -> dict:
    """A tool result's structured content (the SDK's), or its JSON text."""
    if getattr(result, "structured_content", None):
        data = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


async def test_mcp_stdio_lists_remembers_recalls_asks_and_forgets(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "HoloLoom.cli", "mcp", "--home", str(tmp_path / "home")],
        env={**os.environ, "HOLOLOOM_ROUTING": "fixed", "HOLOLOOM_SEED": "3", "HF_HUB_OFFLINE": "1"},
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        assert set(tools) >= {"remember", "recall", "ask", "forget", "feedback"}
        assert "namespace" in tools["recall"].input_schema["properties"]

        for text in ("Maximum Overdrive is a 1986 film directed by Stephen King.",
                     "Stephen King was born in Portland, Maine."):
            stored = _data(await session.call_tool("remember", {"text": text, "namespace": "agent-a"}))
            assert stored["namespace"] == "agent-a" and stored["added"] == 1
        await session.call_tool("remember", {"text": "Agent B's note about Portland.", "namespace": "agent-b"})

        hits = _data(await session.call_tool("recall", {"query": "Stephen King", "namespace": "agent-a"}))
        assert hits["memories"] and all("Agent B" not in m["text"] for m in hits["memories"])

        answer = _data(await session.call_tool("ask", {"question": "Where was the director of Maximum Overdrive born?",
                                                      "namespace": "agent-a", "complexity": "FULL"}))
        assert "Portland" in answer["answer"] and answer["citations"]
        credited = _data(await session.call_tool("feedback", {"spacetime_id": answer["spacetime_id"],
                                                             "namespace": "agent-a", "useful": True}))
        assert credited["reward"] == 1.0

        bad = await session.call_tool("recall", {"query": "   ", "namespace": "agent-a"})
        assert bad.is_error and "InvalidQueryError" in bad.content[0].text and "Traceback" not in bad.content[0].text
        forgot = _data(await session.call_tool("forget", {"namespace": "agent-b", "everything": True}))
        assert forgot["deleted"] == 1
