"""charlstm: a character-level LSTM language model written by hand in NumPy."""

from .checker import check, check_gradients
from .errors import CharlstmError
from .model import CharLSTM, ModelConfig

__version__ = "0.1.0"
__all__ = ["CharLSTM", "ModelConfig", "CharlstmError", "check", "check_gradients", "__version__"]
