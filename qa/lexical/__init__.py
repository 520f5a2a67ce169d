"""The lexical leg: jieba words, BM25 over sentences and paragraphs, and the English-to-Chinese bridge."""
