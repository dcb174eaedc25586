// Recursive-descent XML reader producing OpenMM SerializationNodes.
#include "XmlReader.h"

#include <cstdint>

#include "openmm/OpenMMException.h"

namespace gaqmd {
namespace {

constexpr int kMaxDepth = 64;  // GaqForce/System documents nest 4 deep

class Reader {
 public:
  explicit Reader(const std::string& xml) : text_(xml) {}

  OpenMM::SerializationNode document() {
    skipMisc();
    if (atEnd()) fail("no root element");
    if (peek() != '<') fail("the document does not start with an XML element");
    OpenMM::SerializationNode root;
    element(root, 0);
    skipMisc();
    if (!atEnd()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    int line = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) line += text_[i] == '\n';
    throw OpenMM::OpenMMException("malformed XML at line " + std::to_string(line) + ": " + message);
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  char peek() const {
    if (atEnd()) fail("unexpected end of document (truncated file?)");
    return text_[pos_];
  }
  bool startsWith(const char* prefix) const { return text_.compare(pos_, std::char_traits<char>::length(prefix), prefix) == 0; }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "', found '" + text_[pos_] + "'");
    ++pos_;
  }
  void skipSpace() {
    while (!atEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) ++pos_;
  }
  void skipPast(const char* terminator) {
    size_t end = text_.find(terminator, pos_);
    if (end == std::string::npos) {
      pos_ = text_.size();
      fail(std::string("missing '") + terminator + "' (truncated file?)");
    }
    pos_ = end + std::char_traits<char>::length(terminator);
  }
  /// Whitespace, comments, processing instructions and a DOCTYPE (outside the root).
  void skipMisc() {
    while (true) {
      skipSpace();
      if (startsWith("<!--")) skipPast("-->");
      else if (startsWith("<?")) skipPast("?>");
      else if (startsWith("<!DOCTYPE")) skipPast(">");
      else return;
    }
  }
  static bool nameChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || (static_cast<unsigned char>(c) >= 0x80);
  }
  std::string name() {
    size_t start = pos_;
    while (!atEnd() && nameChar(text_[pos_])) ++pos_;
    if (pos_ == start) fail(atEnd() ? "unexpected end of document (truncated file?)" : "expected a name");
    return text_.substr(start, pos_ - start);
  }
  void appendUtf8(std::string& out, uint32_t code) {
    if (code == 0 || code > 0x10FFFF) fail("invalid character reference");
    if (code < 0x80) {
      out += char(code);
    } else if (code < 0x800) {
      out += char(0xC0 | (code >> 6));
      out += char(0x80 | (code & 0x3F));
    } else if (code < 0x10000) {
      out += char(0xE0 | (code >> 12));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    } else {
      out += char(0xF0 | (code >> 18));
      out += char(0x80 | ((code >> 12) & 0x3F));
      out += char(0x80 | ((code >> 6) & 0x3F));
      out += char(0x80 | (code & 0x3F));
    }
  }
  void reference(std::string& out) {  // after '&'
    size_t end = text_.find(';', pos_);
    if (end == std::string::npos || end - pos_ > 10) fail("unterminated entity reference");
    std::string entity = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    if (entity == "lt") out += '<';
    else if (entity == "gt") out += '>';
    else if (entity == "amp") out += '&';
    else if (entity == "quot") out += '"';
    else if (entity == "apos") out += '\'';
    else if (entity.size() > 1 && entity[0] == '#') {
      bool hex = entity[1] == 'x';
      std::string digits = entity.substr(hex ? 2 : 1);
      if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") != std::string::npos)
        fail("invalid character reference &" + entity + ";");
      appendUtf8(out, uint32_t(std::stoul(digits, nullptr, hex ? 16 : 10)));
    } else {
      fail("unknown entity &" + entity + ";");
    }
  }
  std::string attributeValue() {
    char quote = peek();
    if (quote != '"' && quote != '\'') fail("attribute value without quotes");
    ++pos_;
    std::string value;
    for (char c = peek(); c != quote; c = peek()) {
      ++pos_;
      if (c == '<') fail("'<' inside an attribute value");
      if (c == '&') reference(value);
      else value += (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;  // attribute-value normalization
    }
    ++pos_;
    return value;
  }
  /// Returns true when the tag closed itself ("/>").
  bool attributes(OpenMM::SerializationNode& node) {
    while (true) {
      skipSpace();
      if (startsWith("/>")) return pos_ += 2, true;
      if (peek() == '>') return ++pos_, false;
      std::string key = name();
      skipSpace();
      expect('=');
      skipSpace();
      if (node.hasProperty(key)) fail("attribute '" + key + "' appears twice");
      node.setStringProperty(key, attributeValue());
    }
  }
  void content(OpenMM::SerializationNode& node, int depth) {
    while (true) {
      size_t next = text_.find('<', pos_);
      if (next == std::string::npos) {
        pos_ = text_.size();
        fail("unexpected end of document inside <" + node.getName() + "> (truncated file?)");
      }
      pos_ = next;
      if (startsWith("</")) return;
      if (startsWith("<!--")) skipPast("-->");
      else if (startsWith("<![CDATA[")) skipPast("]]>");
      else if (startsWith("<?")) skipPast("?>");
      else element(node.createChildNode(""), depth + 1);
    }
  }
  void element(OpenMM::SerializationNode& node, int depth) {
    if (depth > kMaxDepth) fail("elements nested too deeply");
    expect('<');
    node.setName(name());
    if (attributes(node)) return;
    content(node, depth);
    pos_ += 2;  // "</"
    std::string closing = name();
    if (closing != node.getName()) fail("</" + closing + "> closes <" + node.getName() + ">");
    skipSpace();
    expect('>');
  }

  const std::string& text_;
  size_t pos_ = 0;
};

}  // namespace

OpenMM::SerializationNode parseXml(const std::string& xml) { return Reader(xml).document(); }

}  // namespace gaqmd
