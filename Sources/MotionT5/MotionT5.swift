// The MotionT5 target: T5 / Flan-T5 encoder-decoder.
