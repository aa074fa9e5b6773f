#pragma once
// Typed keyword attributes (`filters=32`, `init=he_normal`), their specs with defaults and
// valid ranges, and binding source arguments against a spec with diagnostics.
// Ops, losses, regularizers, optimizers, schedules and augmentations all describe their
// attributes with AttrSpecs, so validation, defaults and "did you mean" behave the same everywhere.

#include "dsl/Ast.h"
#include "dsl/Diagnostics.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace netc {

/// A parameter initializer: `he_normal`, `constant(0.1)`, ...
struct Initializer {
    enum class Kind { XavierUniform, XavierNormal, HeUniform, HeNormal, Zeros, Ones, Constant };
    Kind kind = Kind::Zeros;
    double value = 0;  // Constant
};

const char *initializer_name(Initializer::Kind kind);
std::string to_string(const Initializer &init);

enum class AttrType { Int, Float, Bool, Enum, Init, IntList };

struct AttrValue {
    double number = 0;          // Int, Float, Bool (0 or 1)
    std::string word;           // Enum
    Initializer init;           // Init
    std::vector<int64_t> ints;  // IntList
};

/// A closed or open interval of valid numbers.
struct Range {
    double lo = -1e300, hi = 1e300;
    bool lo_open = false, hi_open = false;

    static Range any() { return {}; }
    static Range at_least(double lo) { return {lo, 1e300, false, false}; }
    static Range above(double lo) { return {lo, 1e300, true, false}; }
    static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
    static Range closed_open(double lo, double hi) { return {lo, hi, false, true}; }
    static Range open_closed(double lo, double hi) { return {lo, hi, true, false}; }
    static Range open(double lo, double hi) { return {lo, hi, true, true}; }
    bool contains(double x) const;
    std::string str() const;  // "[0, 1)", ">= 1", "> 0"
};

struct AttrSpec {
    std::string name;
    AttrType type = AttrType::Int;
    std::optional<AttrValue> default_value;  // none: required, unless `optional`
    bool optional = false;                   // may be absent with no default
    Range range;                             // Int, Float, IntList items
    std::vector<std::string> choices;        // Enum
    std::string doc;
};

// Spec builders, so tables read as one line per attribute.
AttrSpec int_attr(std::string name, int64_t def, Range range, std::string doc);
AttrSpec required_int_attr(std::string name, Range range, std::string doc);
AttrSpec float_attr(std::string name, double def, Range range, std::string doc);
AttrSpec optional_float_attr(std::string name, Range range, std::string doc);
AttrSpec optional_int_attr(std::string name, Range range, std::string doc);
AttrSpec bool_attr(std::string name, bool def, std::string doc);
AttrSpec enum_attr(std::string name, std::string def, std::vector<std::string> choices,
                   std::string doc);
AttrSpec init_attr(std::string name, Initializer def, std::string doc);
AttrSpec int_list_attr(std::string name, std::vector<int64_t> def, Range item_range,
                       std::string doc);

/// Bound attributes: every spec'd attribute with a value (given or default), in spec order.
class Attrs {
public:
    void set(const std::string &name, AttrValue value);
    bool has(const std::string &name) const;
    int64_t get_int(const std::string &name) const;
    double get_float(const std::string &name) const;
    bool get_bool(const std::string &name) const;
    const std::string &get_enum(const std::string &name) const;
    const Initializer &get_init(const std::string &name) const;
    const std::vector<int64_t> &get_ints(const std::string &name) const;

    /// "filters=32 kernel=3 ..." in spec order; absent optional attributes are left out.
    std::string str(const std::vector<AttrSpec> &specs) const;

private:
    const AttrValue &at(const std::string &name) const;
    std::map<std::string, AttrValue> values_;
};

/// Binds keyword arguments against `specs`, filling defaults. `owner` names what is being
/// configured in messages ("conv2d", "optimizer adam"). Positional arguments are bound in spec
/// order when `allow_positional`; otherwise the caller has consumed them already and they are
/// skipped here. Returns false when an error was reported.
bool bind_attrs(const std::vector<AttrSpec> &specs, const std::vector<ast::Arg> &args,
                const std::string &owner, SourceLoc owner_loc, bool allow_positional,
                Diagnostics &diags, Attrs &out);

/// The spec's default rendered for documentation and dumps ("1e-05", "he_normal", "required").
std::string default_string(const AttrSpec &spec);
std::string attr_type_name(const AttrSpec &spec);
std::string format_number(double x);

}  // namespace netc
