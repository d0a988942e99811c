#pragma once
// All of a file or a buffer, or an error: reading a whole file, writing a whole
// buffer to a descriptor, and messages to stderr that other processes writing
// to the same stderr (the ranks of `launch`) cannot cut into.
#include <string>
#include <string_view>

namespace lr::driver {

// PATH's whole contents into `text`. Returns 0, or the errno of the open or
// read that failed (`text` is then empty). Each caller words its own error.
int read_whole_file(const std::string& path, std::string& text);

// Writes all of `bytes` to `fd`, retrying after signals and short writes.
// Returns 0, or the errno of the write that failed.
int write_whole(int fd, std::string_view bytes);

// `message` (with its own newlines) to stderr in one write(2): a pipe keeps a
// write of up to PIPE_BUF (4096) bytes whole, and a terminal or file in practice,
// so ranks failing together never print "rank 0 of 2: rank 1 of 2: ...".
// std::cerr's stream inserts write each piece separately. Errors are ignored
// (stderr gone: nothing to tell).
void say_to_stderr(std::string_view message);

}  // namespace lr::driver
