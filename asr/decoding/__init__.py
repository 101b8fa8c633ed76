"""From log posteriors to words: the vocabularies and text normaliser (text, phones), CTC search (ctc: greedy, prefix
beam search, lexicon trie, alignment), word n-gram LMs (lm, mixlm), LM and hotword scores for the beam (fusion) and
a model directory's packed decoding tables (tables).
"""
