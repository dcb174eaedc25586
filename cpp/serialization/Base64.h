#pragma once
// Base64 (RFC 4648, standard alphabet, '=' padding) for the byte arrays of the XML proxy.

#include <cstdint>
#include <string>
#include <vector>

namespace gaqmd {

std::string base64Encode(const std::vector<uint8_t>& bytes);

/// Strict decoding: length a multiple of 4, only the alphabet, padding only at the end.
/// Throws std::invalid_argument saying what is wrong and where.
std::vector<uint8_t> base64Decode(const std::string& text);

}  // namespace gaqmd
