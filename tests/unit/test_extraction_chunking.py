from HoloLoom.chunking import chunk_text, split_sentences
from HoloLoom.extraction import RuleBasedExtractor, about_keys, entity_key


def test_capitalised_spans_with_connectors() -> None:
    e = RuleBasedExtractor()
    names = e.entities("Haymo of Faversham lectured at the University of Paris with Stephen King.")
    assert names == ["Haymo of Faversham", "University of Paris", "Stephen King"]


def test_and_separates_names_and_lowercase_usage_rejects_sentence_starts() -> None:
    e = RuleBasedExtractor()
    assert e.entities("Are Christopher Nolan and Sathish Kalathil both film directors?") == [
        "Christopher Nolan", "Sathish Kalathil"]
    # "Demons" starts a sentence but "demon" is used in lower case: not a name.
    assert "Demons" not in e.entities("Gallu is a demon. Demons are feared.")
    assert "Gallu" in e.entities("Gallu is a demon. Demons are feared.")


def test_plain_text_has_no_entities() -> None:
    assert RuleBasedExtractor().entities("define machine learning") == []


def test_quoted_titles_not_quoted_sentences() -> None:
    names = RuleBasedExtractor().entities('He read "The Shining" and said "i went to the shop yesterday".')
    assert "The Shining" in names
    assert not any("shop" in n for n in names)


def test_entity_keys_fold_case_accents_and_punctuation() -> None:
    assert entity_key("Leland, North Carolina") == "leland north carolina"
    assert entity_key("Alû") == entity_key("ALU")
    assert about_keys("Lilu (mythology)") == ["lilu mythology", "lilu"]
    assert about_keys("Leland, North Carolina") == ["leland north carolina", "leland"]


def test_motifs_are_content_words() -> None:
    motifs = RuleBasedExtractor().motifs("The demon algorithm samples the demon energy; the demon stores energy.")
    assert motifs[:2] == ["demon", "energy"]
    assert "the" not in motifs


def test_short_text_is_one_unchanged_chunk() -> None:
    text = "  A short memory, kept exactly.  "
    assert chunk_text(text, 100) == [text]


def test_long_text_is_chunked_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} talks about topic {i}." for i in range(60)]
    chunks = chunk_text(" ".join(sentences), 300)
    assert len(chunks) > 5
    assert all(len(c) <= 300 for c in chunks)
    for prev, nxt in zip(chunks, chunks[1:]):
        assert split_sentences(prev)[-1] == split_sentences(nxt)[0]  # one sentence of overlap
    joined = " ".join(chunks)
    assert all(s in joined for s in sentences)


def test_oversized_sentence_is_cut_at_words() -> None:
    chunks = chunk_text("word " * 1000, 200)
    assert all(len(c) <= 200 for c in chunks)
    assert sum(c.count("word") for c in chunks) >= 1000


def test_abbreviations_do_not_split_sentences() -> None:
    assert split_sentences("Dr. Smith met Mr. Jones. They talked.") == ["Dr. Smith met Mr. Jones.", "They talked."]


def test_chat_openers_and_contractions_are_not_names() -> None:
    ex = RuleBasedExtractor()
    assert ex.entities("Hey John! It's great. I'm fine, Let's go to Paris.") == ["John", "Paris"]
    assert ex.entities("Thanks, Maria! You're right, we can't wait.") == ["Maria"]
    # A possessive inside a title is part of the name.
    assert ex.entities("Arthur's Magazine was started in 1844.") == ["Arthur's Magazine"]
