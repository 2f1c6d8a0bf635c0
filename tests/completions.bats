#!/usr/bin/env bats
# Shell completions (contrib/completions/): the bash one driven the way
# bash drives it (COMP_WORDS, COMP_CWORD, then _loom, then COMPREPLY),
# checked against what `loom help` and each `loom COMMAND --help` list,
# so a new subcommand or option cannot be left out; the zsh one parsed
# and its dispatch walked with zsh's completion functions stubbed (when
# zsh is installed).

bats_require_minimum_version 1.5.0

load helpers

BASH_COMP=$BATS_TEST_DIRNAME/../contrib/completions/loom.bash
ZSH_COMP=$BATS_TEST_DIRNAME/../contrib/completions/_loom

setup() {
	# shellcheck disable=SC1090
	source "$BASH_COMP"
	LOOM=$LOOM_BIN/loom
}

# complete WORD...: COMPREPLY for the command line WORDS, the last being
# the word under the cursor; prints the candidates one per line, sorted.
complete_words() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_loom
	printf '%s\n' "${COMPREPLY[@]}" | sort
}

@test "bash: commands, aliases' subcommands, subcommands" {
	run complete_words "$LOOM" ''
	assert_line workflow
	assert_line execution
	assert_line dlq
	assert_line events
	run complete_words "$LOOM" wo
	assert_output workflow
	run complete_words "$LOOM" workflow ''
	for s in apply list describe trigger delete pause unpause history; do
		assert_line "$s"
	done
	run complete_words "$LOOM" wf un
	assert_output unpause
	run complete_words "$LOOM" exec l
	assert_output $'list\nlogs'
	run complete_words "$LOOM" help ev
	assert_output events
}

@test "bash: options per subcommand, and their values" {
	run complete_words "$LOOM" workflow history x --
	for o in --status --since --until --limit --cursor --all --output --api; do
		assert_line -- "$o"
	done
	refute_line -- --force
	run complete_words "$LOOM" workflow delete x --f
	assert_output -- --force
	run complete_words "$LOOM" execution list --st
	assert_output -- --status
	run complete_words "$LOOM" execution list --status ''
	assert_output $'CANCELLED\nFAILED\nPENDING\nRUNNING\nSUCCESS'
	run complete_words "$LOOM" execution list -o j
	assert_output json
	run complete_words "$LOOM" execution list --output = t
	assert_output text
	run complete_words "$LOOM" token create ci --scope ''
	assert_output $'admin\noperator\nread'
	run complete_words "$LOOM" graph -f ''
	assert_output $'dot\nmermaid'
	run complete_words "$LOOM" events --kind ''
	assert_output $'log\nrun\ntask\nworkflow'
	run complete_words "$LOOM" execution retry x --fr
	assert_output -- --from-failed
	run complete_words "$LOOM" execution list --limit ''
	assert_output ''
	run complete_words "$LOOM" workflow trigger-token ''
	assert_output $'create\nlist\nrevoke'
	run complete_words "$LOOM" workflow trigger-token create x --
	assert_line -- --name
	assert_line -- --expires
	run complete_words "$LOOM" workflow trigger x --t
	assert_output $'--timeout\n--token'
}

@test "bash: files where commands read workflow files" {
	cd "$BATS_TEST_TMPDIR"
	mkdir -p flows
	touch a.yaml b.json c.txt flows/d.yml
	run complete_words "$LOOM" validate ''
	assert_output $'a.yaml\nb.json\nflows'
	run complete_words "$LOOM" workflow apply flows/
	assert_output flows/d.yml
	run complete_words "$LOOM" run x.yaml --input @
	assert_line @a.yaml
	assert_line @c.txt
}

@test "bash: workflow ids come from loom workflow list" {
	# a stand-in for loom: what `loom workflow list` prints on a pipe
	cat >"$BATS_TEST_TMPDIR/loom" <<'EOF'
#!/bin/sh
[ "$1 $2" = "workflow list" ] || exit 2
printf 'daily-report\tDaily Report\t2\t4\t0 3 * * *\tno\t-\n'
printf 'deploy\tDeploy\t1\t2\t-\tyes\t-\n'
EOF
	chmod +x "$BATS_TEST_TMPDIR/loom"
	run complete_words "$BATS_TEST_TMPDIR/loom" workflow trigger d
	assert_output $'daily-report\ndeploy'
	run complete_words "$BATS_TEST_TMPDIR/loom" workflow pause de
	assert_output deploy
	run complete_words "$BATS_TEST_TMPDIR/loom" execution list --workflow da
	assert_output daily-report
	# the ID is given already: nothing more
	run complete_words "$BATS_TEST_TMPDIR/loom" workflow pause deploy d
	assert_output ''
	# no server: no ids, no error
	run complete_words "$LOOM" workflow describe ''
	assert_success
}

@test "bash: every command, subcommand and option of loom's help is offered" {
	local cmd sub o subs opts missing=
	# shellcheck disable=SC2207
	local cmds=($("$LOOM" help | awk '/^commands:/ { on = 1; next }
	    on && /^  [a-z]/ { print $1 }'))
	[ "${#cmds[@]}" -ge 14 ]
	for cmd in "${cmds[@]}"; do
		[[ " $(echo $_loom_commands) " == *" $cmd "* ]] ||
		    missing+=" command:$cmd"
		[ "$cmd" != version ] && [ "$cmd" != help ] || continue
		help=$("$LOOM" "$cmd" --help 2>&1)
		# subcommands: "loom CMD a|b ..." words of the usage lines
		subs=$(grep -E "^(usage:)? +loom $cmd " <<<"$help" |
		    grep -oE "loom $cmd [a-z][a-z|-]*" |
		    awk '{ print $3 }' | tr '|' '\n' | sort -u)
		for sub in $subs; do
			[[ " $(_loom_subcommands "$cmd") " == *" $sub "* ]] ||
			    missing+=" $cmd:$sub"
		done
		# options: offered by the command or one of its subcommands
		opts=$(_loom_options "$cmd" "")
		for sub in $(_loom_subcommands "$cmd"); do
			opts+=" $(_loom_options "$cmd" "$sub")"
		done
		for o in $(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u); do
			[[ " $opts " == *" $o "* ]] || missing+=" $cmd:$o"
		done
	done
	[ -z "$missing" ] || {
		echo "not completed:$missing"
		return 1
	}
}

@test "zsh: _loom parses, and dispatches to each subcommand's options" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	run zsh -n "$ZSH_COMP"
	assert_success
	# zsh's completion system stubbed: _arguments -C picks the state
	# the way the real one would, the others print what they were given
	run zsh -f -c '
		_arguments() {
			if [[ $1 == -C ]]; then
				if (( CURRENT == 2 )); then state=command
				else state=argument; shift words; (( CURRENT-- )); fi
				return 0
			fi
			print -rl -- "$@"
		}
		_describe() { print -rl -- ${(P)${@[-1]}} }
		_files() { :; }; _directories() { :; }; _time_zone() { :; }
		_values() { :; }
		source "$1"
		words=(loom workflow history x --); CURRENT=5; _loom
		print -- ----
		words=(loom workflow ""); CURRENT=3; _loom
		print -- ----
		words=(loom ""); CURRENT=2; _loom
	' zsh "$ZSH_COMP"
	assert_success
	assert_output --partial '(--all)--cursor[resume after this page]:cursor:'
	assert_output --partial '2:workflow id:_loom_workflow_ids'
	assert_line history
	assert_line unpause
	assert_line 'dlq:dead letters: list, show, replay, discard'
}
