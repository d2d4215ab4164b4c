"""Print the README's set-up commands, one a line, from the block between
`<!-- setup:begin -->` and `<!-- setup:end -->` (lines starting with `$ `)."""
import re
import sys

text = open(sys.argv[1], encoding="utf-8").read()
block = re.search(r"<!-- setup:begin -->(.*?)<!-- setup:end -->", text, re.S)
if not block:
    sys.exit("README has no <!-- setup:begin --> … <!-- setup:end --> block")
for line in block.group(1).splitlines():
    if line.startswith("$ "):
        print(line[2:].strip())
