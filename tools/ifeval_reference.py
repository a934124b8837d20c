#!/usr/bin/python3
"""ifeval_reference.py: what NLTK and langdetect say about IFEval's released GPT-4 responses.

srl's IFEval checkers (ifeval.c) count sentences with Punkt's algorithm without trained parameters
and capital words with the rules of NLTK's Treebank word tokenizer, and do not identify languages.
This script asks Debian's own NLTK (python3-nltk) and langdetect (python3-langdetect) the same
questions, one line per response of the fixture, so that tests/test_ifeval.c can compare srl's
counts with NLTK's on real text, and docs/ifeval.md can say what language identification would
have decided:

  sentences        len(PunktSentenceTokenizer().tokenize(r))   (NLTK's Punkt, untrained: as srl)
  capital_words    upper-case NLTKWordTokenizer tokens of those sentences
  language         langdetect.detect(r) with DetectorFactory.seed = 0, as IFEval sets it

Run with Debian's python (the python3 first on PATH may not see Debian's packages):
  apt-get install -y python3-nltk python3-langdetect
  /usr/bin/python3 tools/ifeval_reference.py $SRL_FIXTURES/data/ifeval_gpt4_responses.jsonl > tests/ref/ifeval_nltk.jsonl
The output holds counts and language codes only, keyed by line number, no text of the fixture.
"""
import json
import sys

import langdetect
from nltk.tokenize.destructive import NLTKWordTokenizer
from nltk.tokenize.punkt import PunktSentenceTokenizer

langdetect.DetectorFactory.seed = 0
punkt = PunktSentenceTokenizer()
words = NLTKWordTokenizer()

for line_number, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    response = json.loads(line)["response"]
    sentences = punkt.tokenize(response)
    capital = sum(1 for s in sentences for t in words.tokenize(s) if t.isupper())
    try:
        language = langdetect.detect(response)
    except langdetect.LangDetectException:
        language = None
    print(json.dumps({"line": line_number, "sentences": len(sentences), "capital_words": capital, "language": language}))
