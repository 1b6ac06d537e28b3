"""Raw open text -> passages, pairs and labelled texts; one pure, deterministic module per source.

Evaluation sources (used by :mod:`gecko_bench.tasks`): :mod:`.debian_faq`, :mod:`.manpages`,
:mod:`.wordnet`, :mod:`.fortunes`, :mod:`.bible`, :mod:`.gensim_data`, :mod:`.brown`,
:mod:`.spamassassin`. FRet seed passages: :mod:`.seeds`. Each module names its ``SOURCE`` (the
asset registry entry) and ``LICENCE``; the fetched folder also carries ``LICENCE.txt``.
"""
