// The Generation target: samplers and decoding loops.
