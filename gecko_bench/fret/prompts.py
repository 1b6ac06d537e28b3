"""Raw few-shot prompts (no chat template) for query generation, query likelihood and relevance.

The generation examples span the task types of the Gecko paper (question answering, search
result, fact checking, sentence similarity, plus topic and definition lookups) and are rotated per
seed, so a small LLM, which tends to follow the last example, still writes diverse tasks.
Example passages are written for this file, not taken from any evaluation data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Part of a FRet dataset's identity: bump when any prompt text or what is scored changes.
# v2: relevance classification also scores " No" and stores log p(Yes) normalised over the two.
PROMPT_VERSION = "v2"


@dataclass(frozen=True)
class FewShotExample:
    """One demonstration in the FRet generation prompt: a passage, its task and query."""

    type: str
    passage: str
    task: str
    query: str


EXAMPLES: tuple[FewShotExample, ...] = (
    FewShotExample("question answering",
            "The Great Barrier Reef, off the coast of Queensland, Australia, is the world's "
            "largest coral reef system. It is made of almost 3,000 individual reefs and can be "
            "seen from outer space.",
            "Given a question, retrieve passages that answer the question",
            "where is the largest coral reef in the world"),
    FewShotExample("fact checking",
            "Mount Everest's summit stands at 8,849 metres above sea level, according to a "
            "survey announced jointly by China and Nepal in 2020.",
            "Given a claim, retrieve passages that support or refute the claim",
            "Mount Everest is less than 8,000 metres high"),
    FewShotExample("search result",
            "To keep bread fresh for longer, store it at room temperature in a bread box or a "
            "paper bag. The refrigerator makes bread go stale faster, but the freezer keeps it "
            "for months.",
            "Given a web search query, retrieve relevant passages that answer the query",
            "best way to store bread"),
    FewShotExample("sentence similarity",
            "The committee postponed its decision on the new bridge until engineers finish the "
            "safety review next spring.",
            "Retrieve sentences that are semantically similar to the given sentence",
            "A ruling on the bridge was delayed until the safety inspection is done"),
    FewShotExample("topic retrieval",
            "She walked along the shore at dusk, listening to the gulls and wondering whether "
            "her brother would ever come home from the war.",
            "Given a topic, retrieve passages of fiction about that topic",
            "a woman waiting for her brother to return from war"),
    FewShotExample("definition lookup",
            "Photosynthesis is the process by which green plants use sunlight, water and carbon "
            "dioxide to make glucose, releasing oxygen as a by-product.",
            "Given a term, retrieve passages that define or explain it",
            "photosynthesis"),
)
TASK_TYPES = tuple(e.type for e in EXAMPLES)
_KEYWORDS = (
    ("fact checking", ("claim", "fact", "verify", "refute", "true or false")),
    ("sentence similarity", ("similar", "paraphrase", "same meaning", "semantically")),
    ("question answering", ("question", "answer")),
    ("definition lookup", ("define", "definition", "term", "explain")),
    ("topic retrieval", ("topic", "fiction", "story", "theme")),
    ("search result", ("search", "web", "query")),
)

GEN_INTRO = ("Each passage below is followed by a retrieval task it would serve and a query for "
             "that task. The query is short and does not copy the passage.\n\n")
QL_INTRO = "Each passage below is followed by a query that the passage answers.\n\n"
RC_INTRO = ("For each passage and query, say whether the passage is relevant to the query "
            "(Yes or No).\n\n")
MAX_PROMPT_WORDS = 200
GEN_SHOTS = 4  # examples shown per generation prompt (of the six, rotated): shorter prefill


def _clip(text: str, words: int = MAX_PROMPT_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words])


def generation_prompt(passage: str, rotation: int) -> tuple[str, str]:
    """(prompt, type of the last example) for a seed; `rotation` picks the example order."""
    k = rotation % len(EXAMPLES)
    order = (EXAMPLES[k + 1:] + EXAMPLES[:k + 1])[-GEN_SHOTS:]  # example k comes last
    shots = "".join(f"Passage: {e.passage}\nTask: {e.task}\nQuery: {e.query}\n\n" for e in order)
    return f"{GEN_INTRO}{shots}Passage: {_clip(passage)}\nTask:", order[-1].type


# fret.generation=questions (the InPars / GPL style, for a target whose queries are questions):
# one fixed task, the LLM writes only a question. The first example is EXAMPLES[0]'s.
# questions-de / questions-fr: the same prompt written in German / French, for a corpus in that
# language (a small LLM answers English shots with English questions whatever the passage's
# language).
QUESTION_TASK, QUESTION_TYPE = EXAMPLES[0].task, EXAMPLES[0].type


@dataclass(frozen=True)
class QuestionPrompt:
    intro: str
    passage_label: str
    question_label: str
    shots: tuple[tuple[str, str], ...]  # (passage, question)


QUESTION_PROMPTS: dict[str, QuestionPrompt] = {
    "questions": QuestionPrompt(
        "Each passage below is followed by a question that the passage answers. The question "
        "is short and does not copy the passage.\n\n", "Passage", "Question", (
            (EXAMPLES[0].passage, EXAMPLES[0].query),
            ("If the kettle switches itself off before the water boils, limescale has probably "
             "built up on the heating element. Fill it with equal parts water and white vinegar, "
             "leave it for an hour, then rinse it several times.",
             "Why does my kettle turn off before the water boils?"),
            ("Library members may borrow up to twelve items at a time. Books are lent for three "
             "weeks and can be renewed twice online, unless another member has reserved them; "
             "films are lent for one week.",
             "How many times can I renew a library book?"))),
    "questions-de": QuestionPrompt(
        "Auf jeden Abschnitt unten folgt eine Frage, die der Abschnitt beantwortet. Die Frage "
        "ist kurz und schreibt den Abschnitt nicht ab.\n\n", "Abschnitt", "Frage", (
            ("Das Great Barrier Reef vor der Küste von Queensland, Australien, ist das größte "
             "Korallenriffsystem der Welt. Es besteht aus fast 3.000 einzelnen Riffen und ist "
             "aus dem Weltall zu sehen.",
             "Wo liegt das größte Korallenriff der Welt?"),
            ("Wenn sich der Wasserkocher abschaltet, bevor das Wasser kocht, hat sich "
             "wahrscheinlich Kalk am Heizelement abgesetzt. Füllen Sie ihn zu gleichen Teilen "
             "mit Wasser und weißem Essig, lassen Sie ihn eine Stunde stehen und spülen Sie ihn "
             "dann mehrmals aus.",
             "Warum schaltet sich mein Wasserkocher ab, bevor das Wasser kocht?"),
            ("Mitglieder der Bibliothek dürfen bis zu zwölf Medien gleichzeitig ausleihen. "
             "Bücher werden für drei Wochen verliehen und können zweimal online verlängert "
             "werden, sofern kein anderes Mitglied sie vorgemerkt hat; Filme werden für eine "
             "Woche verliehen.",
             "Wie oft kann ich ein Buch der Bibliothek verlängern?"))),
    "questions-fr": QuestionPrompt(
        "Chaque passage ci-dessous est suivi d'une question à laquelle le passage répond. La "
        "question est courte et ne recopie pas le passage.\n\n", "Passage", "Question", (
            ("La Grande Barrière de corail, au large du Queensland, en Australie, est le plus "
             "grand système de récifs coralliens du monde. Elle se compose de près de 3 000 "
             "récifs individuels et est visible depuis l'espace.",
             "Où se trouve le plus grand récif corallien du monde ?"),
            ("Si la bouilloire s'éteint avant que l'eau ne bouille, du calcaire s'est "
             "probablement déposé sur la résistance. Remplissez-la à parts égales d'eau et de "
             "vinaigre blanc, laissez agir une heure, puis rincez-la plusieurs fois.",
             "Pourquoi ma bouilloire s'éteint-elle avant que l'eau ne bouille ?"),
            ("Les membres de la bibliothèque peuvent emprunter jusqu'à douze documents à la "
             "fois. Les livres sont prêtés pour trois semaines et peuvent être prolongés deux "
             "fois en ligne, sauf si un autre membre les a réservés ; les films sont prêtés pour "
             "une semaine.",
             "Combien de fois puis-je prolonger le prêt d'un livre de la bibliothèque ?"))),
}
GENERATIONS = ("gecko", *QUESTION_PROMPTS)  # fret.generation


def question_prompt(passage: str, generation: str = "questions") -> str:
    """The fixed few-shot prompt of ``fret.generation=<generation>`` (a key of
    :data:`QUESTION_PROMPTS`) for a seed."""
    q = QUESTION_PROMPTS[generation]
    shots = "".join(f"{q.passage_label}: {p}\n{q.question_label}: {x}\n\n" for p, x in q.shots)
    return f"{q.intro}{shots}{q.passage_label}: {_clip(passage)}\n{q.question_label}:"


def parse_question(output: str) -> tuple[str, str] | None:
    """(QUESTION_TASK, question) from a continuation of :func:`question_prompt`, or None."""
    question = output.strip("\n").split("\n")[0].strip()
    return (QUESTION_TASK, question) if question else None


def parse_generation(output: str) -> tuple[str, str] | None:
    """(task, query) from an LLM continuation of a generation prompt, or None if unparseable."""
    lines = [ln.strip() for ln in output.strip("\n").split("\n")]
    if len(lines) < 2 or not lines[0] or not lines[1].startswith("Query:"):
        return None
    return lines[0], lines[1][len("Query:"):].strip()


def task_type(task: str, followed: str) -> str:
    """Coarse type of a generated task: keyword map first, else the example type it followed."""
    low = task.lower()
    for name, words in _KEYWORDS:
        if any(w in low for w in words):
            return name
    return followed


def ql_prefix() -> str:
    """Shared few-shot block of the query-likelihood prompt."""
    return QL_INTRO + "".join(f"Passage: {e.passage}\nQuery: {e.query}\n\n" for e in EXAMPLES[:3])


def ql_pair(passage: str, query: str) -> tuple[str, str]:
    """(prompt, continuation) whose mean log-prob is the query likelihood."""
    return f"Passage: {_clip(passage)}\nQuery:", f" {query}"


def rc_prefix() -> str:
    """Shared few-shot block of the relevance-classification prompt (Yes and No examples)."""
    e = EXAMPLES
    rows = [(e[0].passage, e[0].query, "Yes"), (e[2].passage, e[0].query, "No"),
            (e[2].passage, e[2].query, "Yes"), (e[5].passage, e[1].query, "No")]
    return RC_INTRO + "".join(f"Passage: {p}\nQuery: {q}\nRelevant: {a}\n\n" for p, q, a in rows)


RC_LABELS = (" Yes", " No")  # the label set relevance classification is normalised over


def rc_pair(passage: str, query: str) -> tuple[str, str]:
    """(prompt, continuation) whose log-prob is log p(relevant | query, passage)."""
    return f"Passage: {_clip(passage)}\nQuery: {query}\nRelevant:", RC_LABELS[0]


_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def reject_reason(task: str, query: str, passage: str, max_query_words: int = 40) -> str | None:
    """Why a parsed (task, query) is rejected, or None: empty, too_long, copies_passage."""
    q = words(query)
    if not q or not words(task):
        return "empty"
    if len(q) > max_query_words or len(words(task)) > 40:
        return "too_long"
    p = words(passage)
    if len(q) >= 5:
        grams = {tuple(q[i:i + 3]) for i in range(len(q) - 2)}
        in_passage = {tuple(p[i:i + 3]) for i in range(len(p) - 2)}
        if len(grams & in_passage) / len(grams) >= 0.6:
            return "copies_passage"
    return None
