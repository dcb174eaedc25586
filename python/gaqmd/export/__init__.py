"""Export of a trained (quantized) potential for the native engine (DESIGN §5)."""

from gaqmd.export.probe import ChannelwisePath, LinearBlock, linear_blocks, tensor_product_paths

__all__ = ["ChannelwisePath", "LinearBlock", "linear_blocks", "tensor_product_paths"]
