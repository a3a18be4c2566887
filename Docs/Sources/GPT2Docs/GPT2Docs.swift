// No API: this target exists so that the docs package depends on the documented modules.
import GPT2
import Tokenizer
