"""Export of a trained (quantized) potential for the native engine (DESIGN §5)."""

from gaqmd.export.lower import ExportError, lower_model
from gaqmd.export.probe import ChannelwisePath, LinearBlock, linear_blocks, tensor_product_paths

__all__ = ["ExportError", "lower_model", "ChannelwisePath", "LinearBlock", "linear_blocks", "tensor_product_paths"]
