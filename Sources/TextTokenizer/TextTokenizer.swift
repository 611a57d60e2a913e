// The TextTokenizer target: SentencePiece unigram tokenizer and the motion vocabulary.
