# bash completion for loom(1), the Link Loom command line.
#
# Installed as share/bash-completion/completions/loom (make install); or
# source it from ~/.bashrc.  It completes subcommands, their subcommands,
# every option of each (as `loom COMMAND --help` lists them), the values
# of options that take a fixed set (-o text|json, --status, --scope,
# --kind, -f dot|mermaid), files where a command reads files, and
# workflow ids from a running loom-api (`loom workflow list`, at most two
# seconds; nothing when none answers).  It needs nothing but bash: the
# bash-completion package is not required.

_loom_commands='validate graph cron run db workflow execution up status
breaker token task dlq events version help'

# _loom_reply WORDS: the words that start with $cur.
_loom_reply()
{
	local IFS=$' \t\n'
	# shellcheck disable=SC2207
	COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

# _loom_files [workflows]: file names; "workflows": directories and
# YAML or JSON files only.
_loom_files()
{
	local IFS=$'\n' f
	COMPREPLY=()
	if [ -z "${1:-}" ]; then
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -f -- "$cur"))
	else
		for f in $(compgen -f -- "$cur"); do
			case $f in
			*.yaml | *.yml | *.json) COMPREPLY+=("$f") ;;
			*) [ -d "$f" ] && COMPREPLY+=("$f") ;;
			esac
		done
	fi
	compopt -o filenames 2>/dev/null
}

_loom_workflow_ids()
{
	local ids
	ids=$(timeout 2 "${COMP_WORDS[0]}" workflow list 2>/dev/null |
	    cut -f1)
	_loom_reply "$ids"
}

# The options of COMMAND SUB (SUB may be empty), one string.
_loom_options()
{
	local online='-o --output --api -h --help'
	local list='--status --since --until --limit -n --cursor --all'
	case $1 in
	validate) echo '-q --quiet -o --output -h --help' ;;
	graph) echo '-f --format -o --output -h --help' ;;
	cron) echo '--tz --from -n --count -o --output -h --help' ;;
	run) echo '--input --param -q --quiet -h --help' ;;
	db)
		case $2 in
		migrate) echo '--db -h --help' ;;
		status) echo '--db -o --output -h --help' ;;
		prune) echo '--older-than --workflow --dry-run --db -o --output -h --help' ;;
		*) echo '--state-dir --port --fast -h --help' ;;
		esac ;;
	workflow)
		case $2 in
		describe) echo "$online --version" ;;
		trigger) echo "$online --input --param --force --token --wait --timeout" ;;
		next) echo "$online -n" ;;
		trigger-token) echo "$online --name --expires" ;;
		delete) echo "$online --force" ;;
		history) echo "$online $list" ;;
		backfill) echo "$online --from --to --dry-run --input" ;;
		*) echo "$online" ;;
		esac ;;
	execution)
		case $2 in
		list) echo "$online --workflow $list" ;;
		show | cancel) echo "$online --wait --timeout" ;;
		retry) echo "$online --from-failed --wait --timeout" ;;
		logs) echo "$online --follow -f --task --grep --level --since" ;;
		*) echo "$online" ;;
		esac ;;
	up) echo '--state-dir --db --listen --no-sample --fast -h --help' ;;
	status | breaker) echo "$online" ;;
	token)
		case $2 in
		create) echo "$online --db --scope --expires" ;;
		*) echo "$online --db" ;;
		esac ;;
	task) echo "$online --downstream --wait --timeout" ;;
	dlq)
		case $2 in
		list) echo "$online --workflow --execution --all --limit -n" ;;
		replay) echo "$online --wait --timeout" ;;
		*) echo "$online" ;;
		esac ;;
	events) echo "$online --execution --workflow --kind --since" ;;
	esac
}

# The subcommands of COMMAND, or nothing when it has none.
_loom_subcommands()
{
	case $1 in
	cron) echo 'next' ;;
	db) echo 'migrate status prune start stop url' ;;
	workflow) echo 'apply list describe trigger delete pause unpause history backfill next trigger-token' ;;
	execution) echo 'list show cancel retry logs' ;;
	breaker) echo 'list reset' ;;
	token) echo 'create list revoke' ;;
	task) echo 'rerun' ;;
	dlq) echo 'list show replay discard' ;;
	esac
}

_loom()
{
	local cur prev cmd sub subs i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# --opt=value: bash splits it at '='.
	if [ "$cur" = = ]; then
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		cur=
	elif [ "$prev" = = ] && [ "$COMP_CWORD" -ge 2 ]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	fi

	if [ "$COMP_CWORD" -le 1 ]; then
		_loom_reply "$_loom_commands --help --version"
		return 0
	fi
	cmd=${COMP_WORDS[1]}
	case $cmd in
	wf) cmd=workflow ;;
	exec) cmd=execution ;;
	esac
	subs=$(_loom_subcommands "$cmd")
	sub=
	[ -z "$subs" ] || [ "$COMP_CWORD" -le 2 ] || sub=${COMP_WORDS[2]}

	# The value of an option.
	case $prev in
	-o | --output)
		if [ "$cmd" = graph ]; then _loom_files; else _loom_reply 'text json'; fi
		return 0 ;;
	-f | --format)
		if [ "$cmd" = graph ]; then
			_loom_reply 'dot mermaid'
			return 0
		fi ;;
	--status)
		_loom_reply 'PENDING RUNNING SUCCESS FAILED CANCELLED'
		return 0 ;;
	--scope)
		_loom_reply 'read operator admin'
		return 0 ;;
	--kind)
		_loom_reply 'task run workflow log'
		return 0 ;;
	--state-dir)
		local IFS=$'\n'
		# shellcheck disable=SC2207
		COMPREPLY=($(compgen -d -- "$cur"))
		compopt -o filenames 2>/dev/null
		return 0 ;;
	--input)
		if [[ $cur == @* ]]; then
			local IFS=$'\n'
			# shellcheck disable=SC2207
			COMPREPLY=($(compgen -f -P @ -- "${cur#@}"))
			compopt -o filenames 2>/dev/null
		fi
		return 0 ;;
	--tz)
		local IFS=$'\n'
		# shellcheck disable=SC2207
		COMPREPLY=($(cd /usr/share/zoneinfo 2>/dev/null &&
		    compgen -f -- "$cur"))
		return 0 ;;
	--workflow)
		_loom_workflow_ids
		return 0 ;;
	--api)
		_loom_reply 'http://127.0.0.1:8080 unix:'
		return 0 ;;
	--version | --param | --timeout | --limit | -n | --count | \
	--cursor | --since | --until | --db | --port | --listen | \
	--expires | --task | --execution | --from | --grep | --name | --token)
		return 0 ;;
	--level)
		_loom_reply 'debug info warn error'
		return 0 ;;
	esac

	# A subcommand.
	if [ -n "$subs" ] && [ "$COMP_CWORD" -eq 2 ]; then
		_loom_reply "$subs -h --help"
		return 0
	fi
	if [[ $cur == -* ]]; then
		_loom_reply "$(_loom_options "$cmd" "$sub")"
		return 0
	fi

	# Operands.
	case $cmd in
	validate | graph | run)
		_loom_files workflows ;;
	help)
		[ "$COMP_CWORD" -eq 2 ] && _loom_reply "$_loom_commands" ;;
	workflow)
		case $sub in
		apply) _loom_files workflows ;;
		trigger-token)
			if [ "$COMP_CWORD" -eq 3 ]; then
				_loom_reply 'create list revoke'
			elif [ "$COMP_CWORD" -eq 4 ]; then
				_loom_workflow_ids
			fi ;;
		describe | trigger | delete | pause | unpause | history | next | backfill)
			# the ID: the first operand after the subcommand
			for ((i = 3; i < COMP_CWORD; i++)); do
				case ${COMP_WORDS[i]} in -*) continue ;; esac
				case ${COMP_WORDS[i - 1]} in
				--version | --input | --param | --timeout | \
				--from | --to | \
				--status | --since | --until | --limit | \
				--cursor | --api | --output | -o | -n) ;;
				*) return 0 ;;	# the ID is there already
				esac
			done
			_loom_workflow_ids ;;
		esac ;;
	esac
	return 0
}

complete -F _loom loom
