# A subcommand's NAME (.Nm "paratii wallet pay") has a space, which whatis/lexgrog cannot read: name the
# page as its file (paratii.wallet.pay) there, and keep the spaced form where .Nm stands alone later.
/^\.Sh NAME/ { inname = 1; print; next }
/^\.Sh / { inname = 0 }
inname && /^\.Nm "/ { full = $0; sub(/^\.Nm /, "", full); gsub(/"/, "", full); page = full; gsub(/ /, ".", page); print ".Nm " page; next }
!inname && /^\.Nm$/ && full != "" { print ".Nm \"" full "\""; next }
{ print }
