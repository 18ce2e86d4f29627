// The one place where a value becomes text of a generated batch script. Every generator — the
// job-array scripts of the Slurm, PBS and LSF executors and the MPI pilot script of
// `interphase submit` — writes values only through these functions, so that a run folder, a
// workflow or task name, a profile field or an argument can never end a line or become a
// command (docs/cluster.md, "What reaches a batch script"). Three audiences read a script:
// - bash, for command lines: a value is one shell word (shell_word);
// - the scheduler, for #SBATCH/#PBS/#BSUB lines, with its own tokenizer and no notion of shell
//   quoting; bash sees those lines as comments, so a line break inside a value would make the
//   rest of it a command: such values are refused (directive_value, require_printable);
// - people, for `#` comments: control characters are shown escaped (comment_text).
// Job names are not quoted but reduced to the alphabet every scheduler accepts (safe_job_name).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace interphase::cluster {

/// `value` as ONE bash word, read back byte for byte: as it is when it is non-empty and made
/// only of [A-Za-z0-9_./+=:,@%-], else in single quotes, each ' written '\''. Inside single
/// quotes bash interprets nothing ($, `, \, ;, # and line breaks included).
std::string shell_word(std::string_view value);

/// `text` for a `# ...` comment line: line breaks, other control characters and DEL are written
/// as \n, \r, \t, \xHH, so the comment stays one line whatever it quotes.
std::string comment_text(std::string_view text);

/// Throws InputError(source, field, ...) when `value` holds a control character (a line break,
/// NUL, escape...) or DEL: no line of a script can carry it. The message shows the value escaped.
void require_printable(std::string_view value, const std::string& source, const std::string& field);

/// Throws InputError(source, field, ...) unless `name` is a shell variable name ([A-Za-z_][A-Za-z0-9_]*).
void require_variable_name(std::string_view name, const std::string& source, const std::string& field);

/// Whose tokenizer reads a directive line.
enum class DirectiveSyntax {
    Slurm,  ///< #SBATCH: blanks separate words, "..." or '...' group, \ takes the next character, an unquoted # ends the line
    Pbs,    ///< #PBS: blanks separate words, "..." groups
    Lsf,    ///< #BSUB: blanks separate words, "..." groups
};

/// The value of an option on a #SBATCH, #PBS or #BSUB line, in the form the scheduler reads
/// back as ONE word equal to `value`: as it is when made of [A-Za-z0-9_./+=:,@%-], else in double
/// quotes (Slurm: " and \ escaped with \). Refused with InputError(source, field, ...): control
/// characters (require_printable), an empty value, and for PBS and LSF a " or \ (their
/// tokenizers have no escape that all versions read alike).
std::string directive_value(DirectiveSyntax syntax, std::string_view value, const std::string& source,
                            const std::string& field);

/// A path as a Slurm filename pattern (--output, --error) that names exactly that path: each %
/// doubled, since Slurm replaces %j, %A, %a... and reads %% as one %.
std::string slurm_filename_literal(std::string_view path);

/// A job name every scheduler takes as it is: only [A-Za-z0-9_.-], a letter first, at most
/// `max_length` (>= 10) characters. A name that already is one is kept; any other is mapped
/// (other bytes become '_', a leading non-letter gets a "j" prefix), cut to fit, and ends in
/// "-" and 8 hex digits of a hash of the original, so two different names stay apart.
std::string safe_job_name(std::string_view name, std::size_t max_length = 64);

}  // namespace interphase::cluster
