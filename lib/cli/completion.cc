// lib/cli/completion.cc: bash, zsh and fish completion scripts generated from a
// CLI11 command tree (es's and esd's).
//
// The tree is first read into a small model (commands, their options and
// positionals, and what each value completes to), then written out by one
// emitter per shell. All three scripts walk the words before the cursor the
// same way: an option that takes a value consumes the next word (unless it is
// written --opt=value or -oVALUE), a known subcommand name descends into that
// subcommand, `--` ends the options, and any other word is a positional.
//
// Allowed values come from a CLI::IsMember check where the option has one;
// otherwise from the small table in values_for() below. Stream and category
// names are asked from the node with `es streams`, as ninja's completion asks
// `ninja -t targets`.
#include "cli/completion.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace escli {
namespace {

enum class ValueKind { kNone, kWords, kStreams, kCategories, kFiles, kDirectories };

struct Values {
  ValueKind kind = ValueKind::kNone;
  std::vector<std::string> words;
};

struct Opt {
  std::vector<std::string> shorts;  // without the '-'
  std::vector<std::string> longs;   // without the "--"
  bool takes_value = false;
  bool repeatable = false;
  std::string description;
  std::string value_name;  // what the value is called in zsh's messages
  Values values;

  std::vector<std::string> names() const {  // "-s", "--server"
    std::vector<std::string> out;
    for (const auto& s : shorts) out.push_back("-" + s);
    for (const auto& l : longs) out.push_back("--" + l);
    return out;
  }
  std::string key() const { return names().front(); }  // the name values are keyed by
};

struct Pos {
  std::string name;
  std::string description;
  bool required = false;
  bool rest = false;  // takes every remaining positional
  Values values;
};

struct Cmd {
  std::string name;
  std::string path;  // "es", "es append"
  std::string id;    // "es", "es_append": for function names
  std::string description;
  std::vector<Opt> opts;
  std::vector<Pos> pos;
  std::vector<Cmd> subs;
};

// The commands whose stream names the completion asks for, and the sed
// programs that pick the names (or their categories) out of its NDJSON.
constexpr const char* kStreamsArgs = "-o json --timeout 1 streams";
constexpr const char* kStreamSed = R"re(s/.*"stream":"\([^"]*\)".*/\1/p)re";
constexpr const char* kCategorySed = R"re(s/.*"stream":"\([^"-]*\).*/\1/p)re";
constexpr const char* kStreamRe = R"re(.*"stream":"([^"]*)".*)re";
constexpr const char* kCategoryRe = R"re(.*"stream":"([^"-]*).*)re";

// ---------------------------------------------------------------------------
// Reading the tree

std::string one_line(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == '\n' && !out.empty()) break;
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string sanitize_id(const std::string& s) {
  std::string out;
  for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return out;
}

// A word every shell takes as it is: no quoting, globbing or splitting.
bool plain_word(const std::string& w) {
  if (w.empty()) return false;
  return std::all_of(w.begin(), w.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("-_.+/@%,=").find(c) != std::string_view::npos;
  });
}

// The members of a CLI::IsMember check: CLI11 shows them in the type name as
// "TYPE:{a,b,c}" (a map as "{a->x,b->y}").
std::vector<std::string> member_words(const std::string& type_name) {
  std::vector<std::string> out;
  auto open = type_name.find('{');
  if (open == std::string::npos) return out;
  auto close = type_name.find('}', open);
  if (close == std::string::npos) return out;
  std::string body = type_name.substr(open + 1, close - open - 1);
  std::size_t start = 0;
  while (start <= body.size()) {
    auto comma = body.find(',', start);
    if (comma == std::string::npos) comma = body.size();
    std::string w = body.substr(start, comma - start);
    if (auto arrow = w.find("->"); arrow != std::string::npos) w.resize(arrow);
    if (plain_word(w) && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
    start = comma + 1;
  }
  return out;
}

Values words(std::vector<std::string> w) { return {ValueKind::kWords, std::move(w)}; }

// What a value completes to. `name` is an option's long name (or a
// positional's name), `command` the subcommand it belongs to.
Values values_for(const CLI::Option& opt, const std::string& command, const std::string& name) {
  if (auto members = member_words(opt.get_type_name()); !members.empty())
    return words(std::move(members));
  if (name == "output") return words({"json", "text"});
  if (name == "expect") return words({"any", "no-stream", "exists"});
  if (name == "from" && command == "tail") return words({"start", "end"});
  if (name == "shell") return words({"bash", "zsh", "fish"});
  if (name == "stream" || name == "streams") return {ValueKind::kStreams, {}};
  if (name == "category") return {ValueKind::kCategories, {}};
  const std::string type = opt.get_type_name();
  if (type == "FILE") return {ValueKind::kFiles, {}};
  if (type == "DIR") return {ValueKind::kDirectories, {}};
  return {};
}

std::string value_name(const CLI::Option& opt, const std::string& fallback) {
  std::string t = opt.get_type_name();
  t = t.substr(0, t.find(':'));
  t = lower(t);
  if (t.empty() || !plain_word(t)) t = fallback;
  return t;
}

void read_options(const CLI::App& app, Cmd& cmd) {
  for (const CLI::Option* o : app.get_options({})) {
    if (o->get_group().empty()) continue;  // hidden
    if (!o->get_lnames().empty() || !o->get_snames().empty()) {
      Opt opt;
      opt.shorts = o->get_snames();
      opt.longs = o->get_lnames();
      // Flags expect no values. (Their type size is 1 in CLI11 2.1.2, not 0.)
      opt.takes_value = o->get_items_expected_max() != 0;
      opt.repeatable = opt.takes_value
                           ? o->get_expected_max() > 1 ||
                                 o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll
                           : o->get_multi_option_policy() == CLI::MultiOptionPolicy::TakeAll;
      opt.description = one_line(o->get_description());
      std::string nm = opt.longs.empty() ? opt.shorts.front() : opt.longs.front();
      opt.value_name = value_name(*o, nm);
      if (opt.takes_value) opt.values = values_for(*o, cmd.name, nm);
      cmd.opts.push_back(std::move(opt));
    }
    if (o->get_positional()) {
      Pos pos;
      pos.name = o->get_name(true);
      pos.description = one_line(o->get_description());
      pos.required = o->get_required();
      pos.rest = o->get_expected_max() > 1;
      pos.values = values_for(*o, cmd.name, lower(pos.name));
      if (pos.values.kind == ValueKind::kNone)
        pos.values = values_for(*o, cmd.name, value_name(*o, pos.name));
      cmd.pos.push_back(std::move(pos));
    }
  }
  // Option groups are nameless subcommands whose options belong to `app`.
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name().empty()) read_options(*sub, cmd);
  }
}

Cmd read_command(const CLI::App& app, const std::string& name, const Cmd* parent) {
  Cmd cmd;
  cmd.name = name;
  cmd.path = parent ? parent->path + " " + name : name;
  cmd.id = parent ? parent->id + "_" + sanitize_id(name) : sanitize_id(name);
  cmd.description = one_line(app.get_description());
  read_options(app, cmd);
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name().empty()) continue;  // an option group, read above
    cmd.subs.push_back(read_command(*sub, sub->get_name(), &cmd));
  }
  return cmd;
}

template <typename F>
void each_command(const Cmd& cmd, F&& f) {
  f(cmd);
  for (const auto& sub : cmd.subs) each_command(sub, f);
}

// Whether any option or positional of the tree completes to `kind`: the
// helpers a script needs for it are written only then.
bool uses(const Cmd& root, ValueKind kind) {
  bool found = false;
  each_command(root, [&](const Cmd& c) {
    for (const auto& o : c.opts) found = found || (o.takes_value && o.values.kind == kind);
    for (const auto& p : c.pos) found = found || p.values.kind == kind;
  });
  return found;
}

std::string join(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

// 'text' for sh, bash and zsh.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out.push_back(c);
  }
  return out + "'";
}

// s itself where it needs no quotes, else 'text'.
std::string sh_word(const std::string& s) { return plain_word(s) ? s : sh_quote(s); }

// 'text' for fish.
std::string fish_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string fish_word(const std::string& s) { return plain_word(s) ? s : fish_quote(s); }

// A fish argument holding a command: "..." when that needs no escapes.
std::string fish_code(const std::string& s) {
  if (s.find_first_of("\"$\\") == std::string::npos) return "\"" + s + "\"";
  return fish_quote(s);
}

// ---------------------------------------------------------------------------
// bash

std::string bash_action(const Values& v, const std::string& fn) {
  switch (v.kind) {
    case ValueKind::kWords:
      return fn + "_words " + sh_quote(join(v.words));
    case ValueKind::kStreams:
      return fn + "_names " + sh_quote(kStreamSed);
    case ValueKind::kCategories:
      return fn + "_names " + sh_quote(kCategorySed);
    case ValueKind::kFiles:
      return fn + "_paths -f";
    case ValueKind::kDirectories:
      return fn + "_paths -d";
    case ValueKind::kNone:
      break;
  }
  return "";
}

std::string bash_script(const Cmd& root, const std::string& gen) {
  const std::string fn = "_" + root.id;
  std::string s;
  s += "# bash completion for " + root.name +
       "                                -*- shell-script -*-\n";
  s += "# Generated by `" + gen + " bash` from its command tree: do not edit.\n";
  s += "# Load it with `source <(" + gen + " bash)`, or install it as\n";
  s += "# /usr/share/bash-completion/completions/" + root.name + ".\n\n";

  // Per command: subcommands, options, options taking a value, positionals.
  s += "# " + fn + "_cmd PATH: sets subs, opts, vopts, npos and posrest for the command PATH.\n";
  s += fn + "_cmd()\n{\n";
  s += "    subs= opts= vopts= npos=0 posrest=\n";
  s += "    case $1 in\n";
  each_command(root, [&](const Cmd& c) {
    std::vector<std::string> subs, opts, vopts;
    for (const auto& sub : c.subs) subs.push_back(sub.name);
    for (const auto& o : c.opts) {
      for (const auto& n : o.names()) {
        opts.push_back(n);
        if (o.takes_value) vopts.push_back(n);
      }
    }
    s += "        " + sh_word(c.path) + ")\n";
    if (!subs.empty()) s += "            subs=" + sh_quote(join(subs)) + "\n";
    if (!opts.empty()) s += "            opts=" + sh_quote(join(opts)) + "\n";
    if (!vopts.empty()) s += "            vopts=" + sh_quote(join(vopts)) + "\n";
    if (!c.pos.empty()) s += "            npos=" + std::to_string(c.pos.size()) + "\n";
    if (!c.pos.empty() && c.pos.back().rest) s += "            posrest=1\n";
    s += "            ;;\n";
  });
  s += "    esac\n}\n\n";

  // Values, grouped by what they complete to, in order of first appearance.
  std::vector<std::pair<std::string, std::vector<std::string>>>
      groups;  // action, "path|key" labels
  auto add = [&](const std::string& action, const std::string& label) {
    if (action.empty()) return;
    auto it = std::find_if(groups.begin(), groups.end(),
                           [&](const auto& g) { return g.first == action; });
    if (it == groups.end()) {
      groups.push_back({action, {}});
      it = groups.end() - 1;
    }
    it->second.push_back(sh_word(label));
  };
  each_command(root, [&](const Cmd& c) {
    for (const auto& o : c.opts) {
      if (!o.takes_value) continue;
      for (const auto& n : o.names()) add(bash_action(o.values, fn), c.path + "|" + n);
    }
    for (std::size_t i = 0; i < c.pos.size(); ++i)
      add(bash_action(c.pos[i].values, fn), c.path + "|@" + std::to_string(i));
  });
  s += "# " + fn + "_values PATH KEY: completes the value of option KEY, or of positional\n";
  s += "# @N, of the command PATH.\n";
  s += fn + "_values()\n{\n";
  if (!groups.empty()) {
    s += "    case \"$1|$2\" in\n";
    for (const auto& [action, labels] : groups) {
      s += "        " + join(labels, " | ") + ")\n";
      s += "            " + action + "\n";
      s += "            ;;\n";
    }
    s += "    esac\n";
  } else {
    s += "    :\n";
  }
  s += "}\n\n";

  s += "# " + fn + "_words LIST: adds the words of LIST that start with $cur.\n";
  s += fn + "_words()\n{\n";
  s += "    local w list\n";
  s += "    read -ra list <<<\"$1\"\n";
  s += "    for w in \"${list[@]}\"; do\n";
  s += "        [[ $w == \"$cur\"* ]] && COMPREPLY+=(\"$w\")\n";
  s += "    done\n";
  s += "}\n\n";

  if (uses(root, ValueKind::kStreams) || uses(root, ValueKind::kCategories)) {
    s += "# " + fn + "_names SED: adds the names the sed program SED picks out of\n";
    s += "# `" + root.name + " streams` that start with $cur.\n";
    s += fn + "_names()\n{\n";
    s += "    local bin=${words[0]} name\n";
    s += "    [[ $bin == \"~/\"* ]] && bin=$HOME/${bin#\"~/\"}\n";
    s += "    while IFS= read -r name; do\n";
    s += "        [[ -n $name && $name == \"$cur\"* ]] && COMPREPLY+=(\"$name\")\n";
    s += "    done < <(\"$bin\" " + std::string(kStreamsArgs) +
         " 2>/dev/null | sed -n \"$1\" | LC_ALL=C sort -u)\n";
    s += "}\n\n";
  }
  if (uses(root, ValueKind::kFiles) || uses(root, ValueKind::kDirectories)) {
    s += "# " + fn + "_paths -f|-d: adds the files (or directories) that start with $cur.\n";
    s += fn + "_paths()\n{\n";
    s += "    local IFS=$'\\n'\n";
    s += "    compopt -o filenames 2>/dev/null\n";
    s += "    COMPREPLY+=($(compgen \"$1\" -- \"$cur\"))\n";
    s += "}\n\n";
  }
  s += fn + "()\n{\n";
  s += "    local cur words cword\n";
  s += "    if declare -F _get_comp_words_by_ref >/dev/null 2>&1; then\n";
  s += "        _get_comp_words_by_ref -n =: cur words cword\n";
  s += "    else\n";
  s += "        words=(\"${COMP_WORDS[@]}\")\n";
  s += "        cword=$COMP_CWORD\n";
  s += "        cur=${words[cword]}\n";
  s += "    fi\n";
  s += "    COMPREPLY=()\n\n";
  s += "    local path=" + sh_word(root.path) + " subs opts vopts npos posrest\n";
  s += "    " + fn + "_cmd \"$path\"\n";
  s += "    local i j w c pending= seen=0 ended=\n";
  s += "    for ((i = 1; i < cword; i++)); do\n";
  s += "        w=${words[i]}\n";
  s += "        if [[ -n $pending ]]; then\n";
  s += "            # \"--opt = value\" when '=' splits words (without bash-completion)\n";
  s += "            [[ $w == = && ${words[i - 1]} == --* ]] && continue\n";
  s += "            pending=\n";
  s += "            continue\n";
  s += "        fi\n";
  s += "        if [[ -z $ended && $w == -?* ]]; then\n";
  s += "            case $w in\n";
  s += "                --) ended=1 ;;\n";
  s += "                --*=*) ;;\n";
  s += "                --*) [[ \" $vopts \" == *\" $w \"* ]] && pending=$w ;;\n";
  s += "                *)\n";
  s += "                    for ((j = 1; j < ${#w}; j++)); do\n";
  s += "                        c=-${w:j:1}\n";
  s += "                        if [[ \" $vopts \" == *\" $c \"* ]]; then\n";
  s += "                            ((j == ${#w} - 1)) && pending=$c\n";
  s += "                            break\n";
  s += "                        fi\n";
  s += "                    done\n";
  s += "                    ;;\n";
  s += "            esac\n";
  s += "        elif [[ -z $ended && -n $w && \" $subs \" == *\" $w \"* ]]; then\n";
  s += "            path+=\" $w\"\n";
  s += "            " + fn + "_cmd \"$path\"\n";
  s += "            seen=0\n";
  s += "        else\n";
  s += "            seen=$((seen + 1))\n";
  s += "        fi\n";
  s += "    done\n\n";
  s += "    if [[ -n $pending ]]; then\n";
  s += "        [[ $cur == = ]] && cur=\n";
  s += "        " + fn + "_values \"$path\" \"$pending\"\n";
  s += "    elif [[ -z $ended && $cur == --*=* ]]; then\n";
  s += "        local opt=${cur%%=*}\n";
  s += "        cur=${cur#*=}\n";
  s += "        [[ \" $vopts \" == *\" $opt \"* ]] && " + fn + "_values \"$path\" \"$opt\"\n";
  s += "    elif [[ -z $ended && $cur == -* ]]; then\n";
  s += "        " + fn + "_words \"$opts\"\n";
  s += "    else\n";
  s += "        [[ -z $ended ]] && " + fn + "_words \"$subs\"\n";
  s += "        ((posrest && seen >= npos)) && seen=$((npos - 1))\n";
  s += "        if ((seen < npos)); then\n";
  s += "            " + fn + "_values \"$path\" \"@$seen\"\n";
  s += "        elif [[ -z $ended && -z $subs && -z $cur ]]; then\n";
  s += "            " + fn + "_words \"$opts\"\n";
  s += "        fi\n";
  s += "    fi\n";
  s += "    if [[ $cur == *:* ]] && declare -F __ltrim_colon_completions >/dev/null 2>&1; then\n";
  s += "        __ltrim_colon_completions \"$cur\"\n";
  s += "    fi\n";
  s += "    return 0\n";
  s += "}\n\n";
  s += "complete -F " + fn + " " + root.name + "\n";
  s += "\n# ex: filetype=sh\n";
  return s;
}

// ---------------------------------------------------------------------------
// zsh

// Text inside an _arguments [description].
std::string zsh_bracket(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '[' || c == ']' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// A message or a _describe name: ':' separates fields.
std::string zsh_colon(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ':' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

std::string zsh_action(const Values& v, const std::string& fn) {
  switch (v.kind) {
    case ValueKind::kWords:
      return "(" + join(v.words) + ")";
    case ValueKind::kStreams:
      return "_" + fn + "_stream_names";
    case ValueKind::kCategories:
      return "_" + fn + "_category_names";
    case ValueKind::kFiles:
      return "_files";
    case ValueKind::kDirectories:
      return "_files -/";
    case ValueKind::kNone:
      break;
  }
  return "";
}

void zsh_command(const Cmd& c, const std::string& fn, const std::string& bin_var, bool is_root,
                 std::string& s) {
  const std::string f = "_" + c.id;
  // The root function is the autoloaded file itself: no guard on it.
  if (!is_root) s += "(( $+functions[" + f + "] )) ||\n";
  s += f + "() {\n";
  if (is_root) s += "  local " + bin_var + "=${words[1]}\n";
  std::vector<std::string> specs;
  for (const auto& o : c.opts) {
    auto names = o.names();
    std::string excl = o.repeatable ? "*" : "(" + join(names) + ")";
    for (std::size_t i = 0; i < names.size(); ++i) {
      const bool is_short = i < o.shorts.size();
      std::string spec = excl + names[i];
      if (o.takes_value) spec += is_short ? "+" : "=";
      spec += "[" + zsh_bracket(o.description) + "]";
      if (o.takes_value) spec += ":" + zsh_colon(o.value_name) + ":" + zsh_action(o.values, fn);
      specs.push_back(sh_quote(spec));
    }
  }
  if (!c.subs.empty()) {
    specs.push_back(sh_quote("1:command:_" + f + "_commands"));
    specs.push_back(sh_quote("*:: :->args"));
  } else {
    for (std::size_t i = 0; i < c.pos.size(); ++i) {
      const auto& p = c.pos[i];
      std::string num = p.rest ? "*" : std::to_string(i + 1);
      std::string spec = num + (p.required || p.rest ? ":" : "::") + zsh_colon(lower(p.name)) +
                         ":" + zsh_action(p.values, fn);
      specs.push_back(sh_quote(spec));
    }
  }
  if (!c.subs.empty()) {
    s += "  local curcontext=$curcontext state state_descr line ret=1\n";
    s += "  typeset -A opt_args\n";
    s += "  _arguments -C -s -S";
  } else {
    s += "  _arguments -s -S";
  }
  for (const auto& spec : specs) s += " \\\n    " + spec;
  if (c.subs.empty()) {
    s += "\n}\n\n";
    return;
  }
  s += " && ret=0\n";
  s += "  if [[ $state == args ]]; then\n";
  std::string context = c.path;
  std::replace(context.begin(), context.end(), ' ', '-');
  s += "    curcontext=${curcontext%:*:*}:" + context + "-$words[1]:\n";
  s += "    case $words[1] in\n";
  for (const auto& sub : c.subs)
    s += "      " + sh_word(sub.name) + ") _" + sub.id + " && ret=0 ;;\n";
  s += "    esac\n";
  s += "  fi\n";
  s += "  return ret\n";
  s += "}\n\n";

  s += "(( $+functions[_" + f + "_commands] )) ||\n";
  s += "_" + f + "_commands() {\n";
  s += "  local -a commands=(";
  for (const auto& sub : c.subs)
    s += "\n    " + sh_quote(zsh_colon(sub.name) + ":" + sub.description);
  s += "\n  )\n";
  s += "  _describe -t commands " + sh_quote(c.path + " command") + " commands\n";
  s += "}\n\n";

  for (const auto& sub : c.subs) zsh_command(sub, fn, bin_var, false, s);
}

std::string zsh_script(const Cmd& root, const std::string& gen) {
  const std::string fn = "_" + root.id;
  const std::string bin_var = fn + "_bin";
  std::string s;
  s += "#compdef " + root.name + "\n";
  s += "# zsh completion for " + root.name + "\n";
  s += "# Generated by `" + gen + " zsh` from its command tree: do not edit.\n";
  s += "# Load it with `source <(" + gen + " zsh)` after compinit, or install\n";
  s += "# it as _" + root.name + " in a directory of $fpath.\n\n";
  zsh_command(root, fn, bin_var, true, s);

  // Helpers start with "__", command functions with one "_": they cannot clash.
  for (const auto& [name, sed, kind] :
       {std::tuple{"streams", kStreamSed, ValueKind::kStreams},
        std::tuple{"categories", kCategorySed, ValueKind::kCategories}}) {
    if (!uses(root, kind)) continue;
    const std::string n = name;
    const std::string singular = n == "streams" ? "stream" : "category";
    const std::string helper = "_" + fn + "_" + singular + "_names";
    s += "(( $+functions[" + helper + "] )) ||\n";
    s += helper + "() {\n";
    s += "  local -a " + n + "\n";
    s += "  " + n + "=(${(f)\"$(_call_program " + n + " ${" + bin_var + ":-" + root.name + "} " +
         kStreamsArgs + " 2>/dev/null | sed -n " + sh_quote(sed) + " | LC_ALL=C sort -u)\"})\n";
    s += "  _wanted " + n + " expl " + singular + " compadd -a " + n + "\n";
    s += "}\n\n";
  }

  s += "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n";
  s += "  " + fn + " \"$@\"\n";
  s += "else\n";
  s += "  compdef " + fn + " " + root.name + "\n";
  s += "fi\n";
  return s;
}

// ---------------------------------------------------------------------------
// fish

std::string fish_script(const Cmd& root, const std::string& gen) {
  const std::string fn = "__" + root.id;
  const std::string rn = root.name;
  std::string s;
  s += "# fish completion for " + rn + "\n";
  s += "# Generated by `" + gen + " fish` from its command tree: do not edit.\n";
  s += "# Load it with `" + gen + " fish | source`, or install it as\n";
  s += "# " + rn + ".fish in a directory of $fish_complete_path.\n\n";

  s += "# Prints the command path (\"" + rn + "\", \"" + rn + " append\"...), the number of\n";
  s += "# positionals given to it and 1 if the word at the cursor is an option's value.\n";
  s += "function " + fn + "_state\n";
  s += "    set -l tokens (commandline -opc)\n";
  s += "    set -e tokens[1]\n";
  s += "    set -l path " + fish_word(root.path) + "\n";
  s += "    set -l seen 0\n";
  s += "    set -l pending 0\n";
  s += "    set -l ended 0\n";
  s += "    set -l load 1\n";
  s += "    set -l subs\n";
  s += "    set -l vopts\n";
  s += "    for t in $tokens\n";
  s += "        if test $load = 1\n";
  s += "            set load 0\n";
  s += "            set subs\n";
  s += "            set vopts\n";
  s += "            switch $path\n";
  each_command(root, [&](const Cmd& c) {
    std::vector<std::string> subs, vopts;
    for (const auto& sub : c.subs) subs.push_back(fish_word(sub.name));
    for (const auto& o : c.opts) {
      if (!o.takes_value) continue;
      for (const auto& n : o.names()) vopts.push_back(fish_word(n));
    }
    if (subs.empty() && vopts.empty()) return;
    s += "                case " + fish_word(c.path) + "\n";
    if (!subs.empty()) s += "                    set subs " + join(subs) + "\n";
    if (!vopts.empty()) s += "                    set vopts " + join(vopts) + "\n";
  });
  s += "            end\n";
  s += "        end\n";
  s += "        if test $pending = 1\n";
  s += "            set pending 0\n";
  s += "        else if test $ended = 0; and string match -q -- '-?*' $t\n";
  s += "            if test $t = --\n";
  s += "                set ended 1\n";
  s += "            else if string match -q -- '--*=*' $t\n";
  s += "            else if string match -q -- '--*' $t\n";
  s += "                contains -- $t $vopts; and set pending 1\n";
  s += "            else\n";
  s += "                set -l chars (string split '' -- (string sub -s 2 -- $t))\n";
  s += "                for i in (seq (count $chars))\n";
  s += "                    if contains -- -$chars[$i] $vopts\n";
  s += "                        test $i -eq (count $chars); and set pending 1\n";
  s += "                        break\n";
  s += "                    end\n";
  s += "                end\n";
  s += "            end\n";
  s += "        else if test $ended = 0; and contains -- $t $subs\n";
  s += "            set path \"$path $t\"\n";
  s += "            set seen 0\n";
  s += "            set load 1\n";
  s += "        else\n";
  s += "            set seen (math $seen + 1)\n";
  s += "        end\n";
  s += "    end\n";
  s += "    printf '%s\\n' $path $seen $pending\n";
  s += "end\n\n";

  s += "# " + fn + "_is PATH [MIN [MAX]]: the command path is PATH; with MIN, the cursor is\n";
  s += "# on a positional (not an option's value) and MIN..MAX positionals precede it.\n";
  s += "function " + fn + "_is\n";
  s += "    set -l state (" + fn + "_state)\n";
  s += "    test \"$state[1]\" = \"$argv[1]\"; or return 1\n";
  s += "    set -q argv[2]; or return 0\n";
  s += "    test $state[3] = 0; and test $state[2] -ge $argv[2]; or return 1\n";
  s += "    set -q argv[3]; or return 0\n";
  s += "    test $state[2] -le $argv[3]\n";
  s += "end\n\n";

  if (uses(root, ValueKind::kStreams) || uses(root, ValueKind::kCategories)) {
    s += "# " + fn + "_names REGEX: the names REGEX picks out of `" + rn + " streams`.\n";
    s += "function " + fn + "_names\n";
    s += "    set -l bin (commandline -opc)[1]\n";
    s += "    set bin (string replace -r '^~/' \"$HOME/\" -- $bin)\n";
    s += "    $bin " + std::string(kStreamsArgs) +
         " 2>/dev/null | string replace -rf -- $argv[1] '$1' | sort -u\n";
    s += "end\n\n";
  }

  auto action = [&](const Values& v) -> std::string {
    switch (v.kind) {
      case ValueKind::kWords:
        return " -a " + fish_quote(join(v.words));
      case ValueKind::kStreams:
        return " -a " + fish_quote("(" + fn + "_names " + fish_quote(kStreamRe) + ")");
      case ValueKind::kCategories:
        return " -a " + fish_quote("(" + fn + "_names " + fish_quote(kCategoryRe) + ")");
      case ValueKind::kFiles:
        return " -F";
      case ValueKind::kDirectories:
        return " -a '(__fish_complete_directories (commandline -ct))'";
      case ValueKind::kNone:
        break;
    }
    return "";
  };

  s += "complete -c " + rn + " -f\n";
  each_command(root, [&](const Cmd& c) {
    s += "\n# " + c.path + "\n";
    const std::string cond = " -n " + fish_code(fn + "_is " + fish_word(c.path));
    for (const auto& sub : c.subs) {
      s += "complete -c " + rn + cond + " -a " + fish_word(sub.name);
      if (!sub.description.empty()) s += " -d " + fish_quote(sub.description);
      s += "\n";
    }
    for (const auto& o : c.opts) {
      s += "complete -c " + rn + cond;
      for (const auto& sh : o.shorts) s += " -s " + fish_word(sh);
      for (const auto& l : o.longs) s += " -l " + fish_word(l);
      // -x: takes a value and no files; -r: a value, files allowed.
      if (o.takes_value)
        s += (o.values.kind == ValueKind::kFiles ? " -r" : " -x") + action(o.values);
      if (!o.description.empty()) s += " -d " + fish_quote(o.description);
      s += "\n";
    }
    for (std::size_t i = 0; i < c.pos.size(); ++i) {
      const auto& p = c.pos[i];
      std::string a = action(p.values);
      if (a.empty()) continue;
      std::string range = std::to_string(i) + (p.rest ? "" : " " + std::to_string(i));
      s += "complete -c " + rn + " -n " + fish_code(fn + "_is " + fish_word(c.path) + " " + range) +
           a;
      s += " -d " + fish_quote(p.description.empty() ? lower(p.name) : p.description) + "\n";
    }
  });
  return s;
}

}  // namespace

namespace {

// `es help COMMAND`: the command's words are the root's subcommands.
void complete_help(Cmd& root) {
  std::vector<std::string> names;
  for (const auto& sub : root.subs) names.push_back(sub.name);
  for (auto& sub : root.subs) {
    if (sub.name != "help") continue;
    for (auto& p : sub.pos) {
      if (p.values.kind == ValueKind::kNone) p.values = words(names);
    }
  }
}

}  // namespace

std::string completion_script(const CLI::App& root, std::string_view shell,
                              std::string_view generator) {
  std::string name = root.get_name().empty() ? "es" : root.get_name();
  Cmd tree = read_command(root, name, nullptr);
  complete_help(tree);
  const std::string gen(generator);
  if (shell == "bash") return bash_script(tree, gen);
  if (shell == "zsh") return zsh_script(tree, gen);
  if (shell == "fish") return fish_script(tree, gen);
  return "";
}

}  // namespace escli
