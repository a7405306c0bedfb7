"""The drug vocabulary (agent/notes/drugs.py): brands, generics and class words found whole
word with exact offsets, each with its generic and classes; ordinary words never taken for
drugs; the data files parse, every class names its source, and the CSV is exactly what
tools/build_drug_vocabulary.py writes from drug-named-entity-recognition 2.0.9."""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent.notes.drugs import DrugMention, DrugVocabulary, read_names
from tools.build_drug_vocabulary import MIN_LENGTH, STOP_WORDS, drop_reason, generate

DATA = resources.files("agent.notes").joinpath("data")
DICTIONARY = Path(os.environ.get("DRUG_NER_DICTIONARY", "")) \
    if os.environ.get("DRUG_NER_DICTIONARY") else None
"""The package's dictionary, when DRUG_NER_DICTIONARY names it (docs/drug-vocabulary.md)."""


@pytest.fixture(scope="module")
def vocab() -> DrugVocabulary:
    return DrugVocabulary.default()


def _found(vocab: DrugVocabulary, text: str) -> list[tuple[str, str | None]]:
    return [(m.surface, m.generic) for m in vocab.find(text)]


# --- brand -> generic -> class ----------------------------------------------------------

@pytest.mark.parametrize(("brand", "generic", "classes"), [
    ("Motrin", "ibuprofen", {"nsaid", "analgesic"}),
    ("Percocet", "oxycodone and acetaminophen", {"opioid", "acetaminophen", "analgesic"}),
    ("Neurontin", "gabapentin", {"anticonvulsant"}),
    ("Flexeril", "cyclobenzaprine", {"muscle_relaxant"}),
    ("Medrol Dosepak", "methylprednisolone", {"corticosteroid"}),
    ("Norco", "hydrocodone and acetaminophen", {"opioid", "acetaminophen", "analgesic"}),
    ("Keflex", "cephalexin", {"cephalosporin", "antibiotic"}),
    ("Z-Pak", "azithromycin", {"macrolide", "antibiotic"}),
    ("Flonase", "fluticasone", {"intranasal_steroid"}),
    ("Flomax", "tamsulosin", {"alpha_blocker"}),
    ("Lupron", "leuprolide", {"gnrh_agonist"}),
    ("Imitrex", "sumatriptan", {"triptan"}),
    ("Cymbalta", "duloxetine", {"snri", "antidepressant"}),
    ("lisinopril", "lisinopril", {"ace_inhibitor", "antihypertensive"}),
])
def test_a_brand_is_found_with_its_generic_and_classes(
        vocab: DrugVocabulary, brand: str, generic: str, classes: set[str]) -> None:
    text = f"Tried {brand} for six weeks."
    (mention,) = vocab.find(text)
    assert mention == DrugMention(6, 6 + len(brand), brand, generic, frozenset(classes))
    assert vocab.generic_of(brand) == generic
    assert vocab.classes_of(brand) == classes


@pytest.mark.parametrize(("word", "classes"), [
    ("NSAIDs", {"nsaid", "analgesic"}),
    ("NSAID's", {"nsaid", "analgesic"}),
    ("anti-inflammatories", {"nsaid", "analgesic"}),
    ("narcotics", {"opioid", "analgesic"}),
    ("pain medications", {"analgesic"}),
    ("muscle relaxants", {"muscle_relaxant"}),
    ("antibiotics", {"antibiotic"}),
    ("steroids", {"corticosteroid"}),
    ("nasal steroids", {"intranasal_steroid"}),
    ("beta-blockers", {"beta_blocker", "antihypertensive"}),
])
def test_a_class_word_is_found_with_its_classes_and_no_generic(
        vocab: DrugVocabulary, word: str, classes: set[str]) -> None:
    (mention,) = vocab.find(f"Failed {word}.")
    assert (mention.surface, mention.generic, mention.classes) == (word, None, frozenset(classes))
    assert vocab.classes_of(word) == classes
    assert vocab.generic_of(word) is None


def test_an_unknown_name_has_no_class(vocab: DrugVocabulary) -> None:
    assert vocab.classes_of("physical therapy") == frozenset()
    assert vocab.generic_of("physical therapy") is None
    assert vocab.lookup("aspirin") is None  # left out on purpose (drug_classes.yaml)


# --- offsets and matching ---------------------------------------------------------------

def test_offsets_are_exact_and_mentions_in_order(vocab: DrugVocabulary) -> None:
    text = ("PLAN:  Failed NSAIDs and Flexeril.\nHas had a Medrol\nDosepak, then\n"
            "DEPO-MEDROL 80 mg; now on Norco 5/325 prn.")
    mentions = vocab.find(text)
    assert [(m.surface, m.generic) for m in mentions] == [
        ("NSAIDs", None), ("Flexeril", "cyclobenzaprine"),
        ("Medrol\nDosepak", "methylprednisolone"), ("DEPO-MEDROL", "methylprednisolone"),
        ("Norco", "hydrocodone and acetaminophen")]
    for m in mentions:
        assert text[m.start:m.end] == m.surface
    assert (mentions[0].start, mentions[0].end) == (14, 20)
    assert mentions[2].start == text.index("Medrol")


def test_the_longest_name_wins(vocab: DrugVocabulary) -> None:
    assert _found(vocab, "Medrol Dosepak x1.") == [("Medrol Dosepak", "methylprednisolone")]
    assert _found(vocab, "Medrol 4 mg.") == [("Medrol", "methylprednisolone")]
    assert _found(vocab, "narcotic pain medication") == [("narcotic pain medication", None)]
    assert vocab.classes_of("narcotic pain medication") == {"opioid", "analgesic"}
    assert _found(vocab, "Tylenol #3 q6h") == [("Tylenol #3", "acetaminophen and codeine")]
    assert _found(vocab, "Tylenol 3 times a day") == [("Tylenol", "acetaminophen")]


def test_matching_ignores_case_hyphens_and_slashes(vocab: DrugVocabulary) -> None:
    for text in ("MOTRIN", "motrin", "mOtRiN"):
        assert _found(vocab, text) == [(text, "ibuprofen")]
    for text in ("Depo-Medrol", "depo medrol", "Depo - Medrol"):
        assert _found(vocab, text) == [(text, "methylprednisolone")]
    assert _found(vocab, "oxycodone/acetaminophen 5/325") == [
        ("oxycodone/acetaminophen", "oxycodone and acetaminophen")]


def test_no_match_inside_a_word(vocab: DrugVocabulary) -> None:
    text = ("Motrinx premotrin Norcoast antibioticals codeines Advils NSAIDsX steroidal "
            "Aleve2 x_Motrin")
    assert vocab.find(text) == []


def test_two_words_of_a_name_are_not_joined_across_punctuation(vocab: DrugVocabulary) -> None:
    assert _found(vocab, "Medrol. Dosepak") == [("Medrol", "methylprednisolone")]
    assert _found(vocab, "Medrol\n\nDosepak") == [("Medrol", "methylprednisolone")]


def test_common_words_are_not_drugs(vocab: DrugVocabulary) -> None:
    text = ("Ice and rest, PT twice weekly; all may return to work. Heat, brace, home care. "
            "Lab vals normal. Right total knee with Biomet components. Plan B is surgery. "
            "Ears and nose normal. Available generically. Sone.")
    assert vocab.find(text) == []


def test_a_phrase_that_only_holds_a_drug_name_is_not_a_drug(vocab: DrugVocabulary) -> None:
    assert vocab.find("Estrogen receptor 56, Progesterone receptor 23.") == []
    assert _found(vocab, "Prometrium (progesterone) 200 mg") == [
        ("Prometrium", "progesterone"), ("progesterone", "progesterone")]


def test_default_is_loaded_once() -> None:
    assert DrugVocabulary.default() is DrugVocabulary.default()


# --- the data files ---------------------------------------------------------------------

def _table() -> dict[str, Any]:
    table = yaml.safe_load(DATA.joinpath("drug_classes.yaml").read_text(encoding="utf-8"))
    assert isinstance(table, dict)
    return table


def _csv_rows() -> list[tuple[str, str]]:
    return list(read_names(DATA.joinpath("drug_names.csv").read_text(encoding="utf-8")
                           .splitlines()))


def test_every_class_names_its_source_and_version() -> None:
    table = _table()
    sources = table["sources"]
    assert isinstance(sources, dict) and set(sources) == {"fda_epc", "mesh_pa"}
    for source in sources.values():
        assert source["title"] and source["version"] and source["where"]
    classes = table["classes"]
    assert isinstance(classes, dict)
    for cid, spec in classes.items():
        assert spec["source"] in sources, cid
        assert spec["class_name"] and spec["label"] and spec["confirmed"], cid
        if spec["source"] == "fda_epc":
            assert spec["class_name"].endswith("[EPC]"), cid
        assert spec.get("generics") or spec.get("words"), cid
        for parent in spec.get("parents") or ():
            assert parent in classes, cid
        for item in [*(spec.get("generics") or ()), *(spec.get("words") or ())]:
            assert item == item.lower().strip(), (cid, item)


def test_the_classes_cover_conservative_care() -> None:
    vocab = DrugVocabulary.default()
    for cid in ("nsaid", "opioid", "corticosteroid", "muscle_relaxant", "anticonvulsant",
                "tricyclic", "snri", "acetaminophen", "penicillin", "cephalosporin",
                "macrolide", "fluoroquinolone", "tetracycline", "sulfonamide",
                "antihistamine", "intranasal_steroid", "ppi", "h2_blocker", "alpha_blocker",
                "five_alpha_reductase_inhibitor", "bladder_antimuscarinic", "progestin",
                "combined_oral_contraceptive", "gnrh_agonist", "triptan", "ace_inhibitor",
                "arb", "beta_blocker", "thiazide", "calcium_channel_blocker"):
        assert vocab.classes[cid].generics, cid
    for generic, cid in (("gabapentin", "anticonvulsant"), ("pregabalin", "anticonvulsant"),
                         ("amitriptyline", "tricyclic"), ("nortriptyline", "tricyclic"),
                         ("duloxetine", "snri"), ("oxybutynin", "bladder_antimuscarinic"),
                         ("trospium", "bladder_antimuscarinic"), ("leuprolide", "gnrh_agonist")):
        assert cid in vocab.classes_of(generic), generic


def test_the_csv_parses_and_every_generic_is_in_a_class() -> None:
    text = DATA.joinpath("drug_names.csv").read_text(encoding="utf-8")
    assert "drug-named-entity-recognition 2.0.9" in text and "MIT licence" in text
    rows = _csv_rows()
    assert len(rows) == len(dict(rows)) > 1000
    generics = {g for spec in _table()["classes"].values() for g in spec.get("generics") or ()}
    assert {generic for _, generic in rows} <= generics


def test_no_csv_name_is_one_the_rules_drop() -> None:
    """Holds without the package's pickle too: a hand edit that adds "ice" or "pt" fails."""
    for name, generic in _csv_rows():
        if name != generic:
            assert len(name) >= MIN_LENGTH and name not in STOP_WORDS, name
            assert drop_reason(name, generic, canonical=True) is None, name


def test_the_class_table_only_adds_brands_the_package_lacks(vocab: DrugVocabulary) -> None:
    def words(name: str) -> tuple[str, ...]:
        return tuple(re.findall(r"#?\w+", name.lower()))

    csv_names = {words(name) for name, _ in _csv_rows()}
    added = _table()["names"]
    assert isinstance(added, dict)
    for name, generic in added.items():
        assert words(name) not in csv_names, name
        assert vocab.generic_of(name) == generic, name


@pytest.mark.skipif(DICTIONARY is None,
                    reason="set DRUG_NER_DICTIONARY to drug-named-entity-recognition 2.0.9's "
                           "dictionary to check the CSV (docs/drug-vocabulary.md; .ci/run does)")
def test_the_csv_is_what_the_script_writes() -> None:
    assert DICTIONARY is not None
    assert DICTIONARY.is_file(), f"DRUG_NER_DICTIONARY={DICTIONARY}: no such file"
    text, _ = generate(DICTIONARY)
    assert DATA.joinpath("drug_names.csv").read_text(encoding="utf-8") == text


def test_the_guide_states_the_data_as_they_are() -> None:
    guide = (Path(__file__).resolve().parents[1] / "docs" / "drug-vocabulary.md").read_text(
        encoding="utf-8")
    table = _table()
    rows = _csv_rows()
    classes = table["classes"]
    stated = {
        "brands and synonyms": len(rows),
        "generics in the class table": len({g for _, g in rows}),
        "classes": len(classes),
        "class words": len({w for c in classes.values() for w in c.get("words") or ()}),
        "brands the package lacks": len(table["names"]),
        "upstream aliases": len(table["upstream_aliases"]),
        "phrases that are not drugs": len(table["not_drugs"]),
    }
    for what, count in stated.items():
        assert re.search(rf"\b{count:,} (?:\([^)]*\) )?{what}", guide), (what, count)
