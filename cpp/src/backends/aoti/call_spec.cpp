#include "backends/aoti/call_spec.h"

#include <nlohmann/json.hpp>

#include <optional>

#include "common/ivalue_tensors.h"
#include "format/json_depth.h"
#include "tsnative/errors.h"

namespace tsnative::detail {
namespace {

using Json = nlohmann::json;

// Deeper specs are refused rather than recursed into: the spec comes from a file.
constexpr int kMaxDepth = 64;

[[noreturn]] void refuse(const std::string& what) { throw InvalidValue("the package's call spec: " + what); }

Json context_of(const Json& node) {
  const Json& context = node.at("context");
  if (!context.is_string()) refuse("expected a node's context as JSON text, got " + context.dump().substr(0, 60));
  return parse_bounded<Json>(context.get<std::string>(), [] { refuse("expected a node's context, got deeper"); });
}

// A list of strings as names, or nullopt.
std::optional<std::vector<std::string>> names_in(const Json& list) {
  if (!list.is_array()) return std::nullopt;
  std::vector<std::string> names;
  for (const Json& name : list) {
    if (!name.is_string()) return std::nullopt;
    names.push_back(name.get<std::string>());
  }
  return names;
}

std::vector<std::string> dict_keys(const Json& node) {
  const Json keys = context_of(node);
  auto names = names_in(keys);
  if (!names) refuse("expected a dict's keys as a list of strings, got " + keys.dump().substr(0, 60));
  return *names;
}

// The field names of a registered pytree class (a dataclass, a Hugging Face ModelOutput): its context is the
// names of its children, or [names, names of fields that were None] (torch.utils._pytree.register_dataclass);
// nullopt when it is neither.
std::optional<std::vector<std::string>> field_names(const Json& node) {
  if (!node.at("context").is_string()) return std::nullopt;
  const Json context = context_of(node);
  if (auto names = names_in(context)) return names;
  if (context.is_array() && context.size() == 2) return names_in(context[0]);
  return std::nullopt;
}

TreeSpec read_node(const Json& node, int depth) {
  if (depth > kMaxDepth) refuse("expected structures nested at most " + std::to_string(kMaxDepth) + " deep");
  if (!node.is_object()) refuse("expected an object per node, got " + node.dump().substr(0, 60));
  TreeSpec spec;
  const Json& type = node.at("type");
  if (type.is_null()) return spec;  // a leaf: a tensor
  if (!type.is_string()) refuse("expected a node type name, got " + type.dump());
  const std::string name = type.get<std::string>();
  if (name == "builtins.tuple" || name == "collections.namedtuple") {
    spec.kind = TreeSpec::Kind::kTuple;
  } else if (name == "builtins.list") {
    spec.kind = TreeSpec::Kind::kList;
  } else if (name == "builtins.dict" || name == "collections.OrderedDict") {
    spec.kind = TreeSpec::Kind::kDict;
    spec.keys = dict_keys(node);
  } else if (name == "builtins.NoneType") {
    spec.kind = TreeSpec::Kind::kNone;
  } else if (auto fields = field_names(node); fields && fields->size() == node.at("children_spec").size()) {
    // A registered class with named fields: read (and returned) as a dict of its fields by name.
    spec.kind = TreeSpec::Kind::kDict;
    spec.keys = std::move(*fields);
  } else {
    refuse("a " + name +
           " is in the inputs or outputs; this version reads tuples, lists, dicts, tensors and registered classes of "
           "named fields");
  }
  for (const Json& child : node.at("children_spec")) spec.children.push_back(read_node(child, depth + 1));
  if (spec.kind == TreeSpec::Kind::kDict && spec.keys.size() != spec.children.size()) {
    refuse("expected one key per dict value, got " + std::to_string(spec.keys.size()) + " keys for " +
           std::to_string(spec.children.size()) + " values");
  }
  return spec;
}

std::string kind_text(const c10::IValue& value) {
  if (value.isTensor()) return "a Tensor";
  if (value.isNone()) return "None";
  return "a " + value.tagKind();
}

std::string keys_text(const std::vector<std::string>& keys) {
  std::string text = "[";
  for (size_t i = 0; i < keys.size(); ++i) text += (i ? ", '" : "'") + keys[i] + "'";
  return text + "]";
}

}  // namespace

TreeSpec parse_tree_spec(const std::string& text) {
  try {
    const Json spec = parse_bounded<Json>(text, [] {
      refuse("expected a spec nested at most " + std::to_string(kMaxJsonDepth) + " levels deep, got deeper");
    });
    if (!spec.is_array() || spec.size() != 2 || spec[0] != 1) {
      refuse("expected [1, {...}] (pytree protocol 1), got " + text.substr(0, 60));
    }
    return read_node(spec[1], 1);
  } catch (const Json::exception& e) {
    refuse(std::string("expected pytree JSON, got text that does not read (") + e.what() + ")");
  }
}

std::vector<TreeSpec> positional_arguments(const TreeSpec& in_spec) {
  if (in_spec.kind != TreeSpec::Kind::kTuple || in_spec.children.size() != 2 ||
      in_spec.children[0].kind != TreeSpec::Kind::kTuple || in_spec.children[1].kind != TreeSpec::Kind::kDict) {
    refuse("expected the inputs as (args, kwargs)");
  }
  if (!in_spec.children[1].children.empty()) {
    refuse("keyword inputs " + keys_text(in_spec.children[1].keys) + " are recorded; expected positional ones");
  }
  return in_spec.children[0].children;
}

std::string type_text(const TreeSpec& spec) {
  switch (spec.kind) {
    case TreeSpec::Kind::kLeaf:
      return "Tensor";
    case TreeSpec::Kind::kNone:
      return "NoneType";
    case TreeSpec::Kind::kTuple: {
      std::string text = "(";
      for (size_t i = 0; i < spec.children.size(); ++i) text += (i ? ", " : "") + type_text(spec.children[i]);
      return text + ")";
    }
    case TreeSpec::Kind::kList:
    case TreeSpec::Kind::kDict: {
      // One item type when the items agree (an empty list's is Tensor), else Any.
      std::string item = spec.children.empty() ? "Tensor" : type_text(spec.children.front());
      for (const auto& child : spec.children) {
        if (type_text(child) != item) item = "Any";
      }
      return spec.kind == TreeSpec::Kind::kList ? item + "[]" : "Dict(str, " + item + ")";
    }
  }
  return "Any";
}

void flatten(const c10::IValue& value, const TreeSpec& spec, const std::string& name, std::vector<at::Tensor>& out) {
  const auto expected = [&](const std::string& what) {
    return "input '" + name + "': expected " + what + ", got " + kind_text(value);
  };
  switch (spec.kind) {
    case TreeSpec::Kind::kLeaf:
      if (!value.isTensor()) throw InvalidType(expected("a Tensor"));
      out.push_back(value.toTensor());
      return;
    case TreeSpec::Kind::kNone:
      if (!value.isNone()) throw InvalidType(expected("None"));
      return;
    case TreeSpec::Kind::kTuple:
    case TreeSpec::Kind::kList: {
      const bool tuple = spec.kind == TreeSpec::Kind::kTuple;
      if (tuple ? !value.isTuple() : !value.isList()) throw InvalidType(expected(tuple ? "a tuple" : "a list"));
      const std::vector<c10::IValue> items = tuple ? value.toTupleRef().elements().vec() : value.toListRef().vec();
      if (items.size() != spec.children.size()) {
        throw InvalidValue("input '" + name + "': expected " + std::string(tuple ? "a tuple" : "a list") + " of " +
                           std::to_string(spec.children.size()) + " items, got " + std::to_string(items.size()));
      }
      for (size_t i = 0; i < items.size(); ++i) {
        flatten(items[i], spec.children[i], name + "[" + std::to_string(i) + "]", out);
      }
      return;
    }
    case TreeSpec::Kind::kDict: {
      if (!value.isGenericDict()) throw InvalidType(expected("a dict"));
      const c10::Dict<c10::IValue, c10::IValue> dict = value.toGenericDict();
      std::vector<std::string> given;
      for (const auto& entry : dict) {
        given.push_back(entry.key().isString() ? entry.key().toStringRef() : entry.key().tagKind());
      }
      bool same = given.size() == spec.keys.size();
      for (size_t i = 0; same && i < spec.keys.size(); ++i) same = dict.contains(spec.keys[i]);
      if (!same) {
        throw InvalidValue("input '" + name + "': expected a dict with keys " + keys_text(spec.keys) + ", got keys " +
                           keys_text(given));
      }
      for (size_t i = 0; i < spec.keys.size(); ++i) {
        flatten(dict.at(spec.keys[i]), spec.children[i], name + "[\"" + spec.keys[i] + "\"]", out);
      }
      return;
    }
  }
}

size_t leaf_count(const TreeSpec& spec) {
  if (spec.kind == TreeSpec::Kind::kLeaf) return 1;
  size_t count = 0;
  for (const auto& child : spec.children) count += leaf_count(child);
  return count;
}

c10::IValue unflatten(std::vector<at::Tensor>& tensors, size_t& next, const TreeSpec& spec) {
  switch (spec.kind) {
    case TreeSpec::Kind::kLeaf:
      return std::move(tensors.at(next++));
    case TreeSpec::Kind::kNone:
      return c10::IValue();
    case TreeSpec::Kind::kTuple: {
      std::vector<c10::IValue> items;
      for (const auto& child : spec.children) items.push_back(unflatten(tensors, next, child));
      return c10::ivalue::Tuple::create(std::move(items));
    }
    case TreeSpec::Kind::kList:
    case TreeSpec::Kind::kDict: {
      std::vector<c10::IValue> items;
      for (const auto& child : spec.children) items.push_back(unflatten(tensors, next, child));
      if (spec.kind == TreeSpec::Kind::kList) return typed_list(std::move(items));
      return typed_dict(spec.keys, std::move(items));
    }
  }
  return c10::IValue();
}

}  // namespace tsnative::detail
