#!/bin/sh
# A stand-in for score-icp: score = followers / 1000, at most 1. It ignores score-icp's flags;
# any program that reads NDJSON on stdin and writes NDJSON on stdout can stand in for a stage.
exec jq -c '.score = ([(.followers // 0) / 1000, 1] | min)'
