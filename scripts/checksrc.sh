#!/usr/bin/env bash
# Style checks that the compiler does not make (curl's checksrc, git's
# banned.h): banned functions, tabs, trailing white space, and a paragraph
# at the top of every .c file. Exits 1 listing every offence.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
files=$(git ls-files 'src/*.c' 'src/*.h' 'include/*.h' 'test/*.c' 'test/*.h')
bad=0
banned='\b(strcpy|strcat|sprintf|vsprintf|strtok|gmtime|localtime|atoi|atol)[[:space:]]*\('
if grep -nE "$banned" $files | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)'; then
  echo "checksrc: banned function (use snprintf, tc_buf, strtok_r, gmtime_r, strtol)"
  bad=1
fi
if grep -nP '\t' $files | head -20 | grep .; then
  echo "checksrc: tab characters (indent with spaces)"
  bad=1
fi
if grep -nE '[[:space:]]+$' $files | head -20 | grep .; then
  echo "checksrc: trailing white space"
  bad=1
fi
for f in $(git ls-files 'src/*.c'); do
  head -n 1 "$f" | grep -q '^/\*' || { echo "checksrc: $f does not open with a comment on its role"; bad=1; }
done
[ "$bad" -eq 0 ] && echo "checksrc: ok"
exit "$bad"
