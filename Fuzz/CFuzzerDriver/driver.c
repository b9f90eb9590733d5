// Empty: the declaration in include/ is all Swift needs; libFuzzer itself comes from -sanitize=fuzzer.
