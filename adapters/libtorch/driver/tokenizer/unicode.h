// UTF-8 helpers of the tokenizer. The Unicode data itself (NFC, character
// categories) comes from utf8proc; only the UTF-8 encoding rules are written
// out here.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace lr::driver {

// Byte offset of the first byte that does not start a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF are
// ill-formed), or nullopt when the whole text is valid.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

// NFC of valid UTF-8 text (utf8proc). Pure ASCII is returned unchanged
// without calling utf8proc.
std::string nfc(std::string_view valid_utf8);

// Bytes to text: each maximal ill-formed subpart becomes one U+FFFD, as
// Rust's String::from_utf8_lossy (and so Hugging Face's decoders) do.
std::string utf8_lossy(std::string_view bytes);

// Unicode White_Space (tab..CR, space, NEL, and categories Zs, Zl, Zp).
bool is_unicode_whitespace(char32_t cp);

// Decodes the code point that starts at text[pos] (text must be valid UTF-8)
// and returns its length in bytes.
std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t* cp);

// Appends the UTF-8 encoding of cp (<= U+10FFFF, not a surrogate).
void append_utf8(std::string& out, char32_t cp);

}  // namespace lr::driver
