#pragma once
// Recursive-descent parser for .net files. Errors go to the diagnostics sink; the parser
// recovers at the next line so one run reports several mistakes.

#include "dsl/Ast.h"
#include "dsl/Diagnostics.h"
#include "dsl/Lexer.h"

namespace netc {

/// Parses a whole file. The result is usable (possibly partial) even when errors were reported.
ast::File parse(const SourceFile &file, Diagnostics &diags);

}  // namespace netc
