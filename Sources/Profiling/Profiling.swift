// Per-op timing of the GPT-2 graph (`gpt2 profile`), the benchmark runner (`gpt2 bench`) and
// the machine's measured ceilings (`gpt2 calibrate`).
import GPT2
