#pragma once
// Double-quoted text with C/Go-style escapes: \" \\ \n \r \t, and \xNN for any other control byte or DEL.
// Other bytes (UTF-8 included) are copied as they are. The logger's logfmt values and TraceQL's canonical
// printer both use it; Go's strconv.Unquote (Tempo's lexer) and our TraceQL lexer read it back unchanged.
#include <string>
#include <string_view>

namespace spindle {

void append_quoted(std::string& out, std::string_view text);

}  // namespace spindle
