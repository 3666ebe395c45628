#!/bin/sh
# A stand-in for render-copy: one canned subject and body per lead, for trying a pipeline without
# templates. It ignores render-copy's flags.
exec jq -c '.copy = {subject: "Quick question", body: "Hello \(.login), saw your work on \(.from_repos[0] // "GitHub").", variant: "canned"}'
