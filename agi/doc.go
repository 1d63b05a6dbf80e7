// Package agi is a FastAGI server for Asterisk, shaped like net/http:
// a Server accepts sessions, a ServeMux routes them by script name, and a
// Handler runs one call's exchange through a Session.
//
// # What it owns
//
// The wire: the agi_* environment block, one command line per reply, the
// reply grammar (200, 510, 511, multi-line 520, HANGUP at any point), the
// quoting rules of res_agi's parse_args, and every deadline. Asterisk never
// times out a connected FastAGI server, so this package must: a session never
// holds a channel past its EnvTimeout, CommandTimeout or SessionTimeout.
//
// It never talks to Odoo or decides what a call means; that is package dialplan.
//
// # How github.com/CyCoreSystems/agi is used
//
// Used: agi.New parses the environment block into its Variables map. It reads
// through a guarded reader that hands over one line per Read, so the library's
// bufio.Scanner can never buffer bytes past the blank line (a HANGUP that
// follows it stays ours), and that enforces the env deadline and size limits.
//
// Replaced, because they are unsafe on a live channel:
//   - AGI.Set and AGI.Command join arguments unquoted: a value with a space is
//     a 520, a value with a newline is a second command. Session quotes every
//     argument by parse_args rules and replaces control characters.
//   - AGI.Command makes a new bufio.Scanner per command and drops what it had
//     buffered. Session keeps one bufio.Reader for the whole connection.
//   - The library has no deadlines. Session sets one per command, capped by
//     the session deadline and the caller's context.
//   - AGI.Command reads one line of a 520 block, leaving the rest to be read
//     as the next replies. Session consumes the block up to its "520 " line.
//
// # Line length
//
// res_agi reads a command into a 2048-byte buffer (AGI_BUF_LEN); the tail of a
// longer line is executed as a second command. Session never writes a line
// longer than MaxLineBytes and cuts values on a UTF-8 boundary to fit.
package agi
