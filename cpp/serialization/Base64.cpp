// Base64 codec for GaqForceProxy.
#include "Base64.h"

#include <stdexcept>

namespace gaqmd {

static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64Encode(const std::vector<uint8_t>& bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = uint32_t(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= uint32_t(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= uint32_t(bytes[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

static int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

static size_t paddingOf(const std::string& text) {
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  return padding;
}

std::vector<uint8_t> base64Decode(const std::string& text) {
  if (text.size() % 4 != 0)
    throw std::invalid_argument("base64 text of length " + std::to_string(text.size()) +
                                " is not a multiple of 4 (truncated?)");
  const size_t padding = paddingOf(text);
  const size_t symbols = text.size() - padding;
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  uint32_t chunk = 0;
  for (size_t i = 0; i < symbols; ++i) {
    int value = sextet(text[i]);
    if (value < 0)
      throw std::invalid_argument("invalid base64 character at position " + std::to_string(i));
    chunk = (chunk << 6) | uint32_t(value);
    if (i % 4 == 3) {
      out.push_back(uint8_t(chunk >> 16));
      out.push_back(uint8_t(chunk >> 8));
      out.push_back(uint8_t(chunk));
      chunk = 0;
    }
  }
  if (padding == 1) {  // 3 symbols -> 2 bytes
    out.push_back(uint8_t(chunk >> 10));
    out.push_back(uint8_t(chunk >> 2));
  } else if (padding == 2) {  // 2 symbols -> 1 byte
    out.push_back(uint8_t(chunk >> 4));
  }
  return out;
}

}  // namespace gaqmd
