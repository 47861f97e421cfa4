# awk -f conll_f1.awk FILE.conll: slot F1 of a CoNLL file ("token gold predicted" a line, a blank line after
# each sentence) with conlleval's chunk rules for BIO tags, written apart from the C++ scorer so that the
# two can check each other (examples/expect_conll_f1.cmake). Prints "correct predicted gold f1".
# A chunk starts at B-x, at I-x after O, and at I-x after a tag of another type; it ends before O, B-y, an
# I-y of another type, and at the end of the sentence. A predicted chunk is correct when a gold chunk has
# the same type, start and end.
function type(tag) { return tag == "O" ? "" : substr(tag, 3) }
function starts(prev, tag) { return tag != "O" && (substr(tag, 1, 1) == "B" || prev == "O" || type(prev) != type(tag)) }
function close_sentence() {
  for (k in gold_chunk) if (k in pred_chunk) correct++
  delete gold_chunk; delete pred_chunk
  prev_gold = prev_pred = "O"; gold_start = pred_start = -1; i = 0
}
function chunk(which, prev, tag, at) {
  # ends the open chunk of `which` if `tag` does not continue it; starts one if `tag` starts one
  if (which == "gold") {
    if (gold_start >= 0 && (tag == "O" || starts(prev, tag))) { gold_chunk[type(prev) " " gold_start " " at] = 1; gold++; gold_start = -1 }
    if (starts(prev, tag)) gold_start = at
  } else {
    if (pred_start >= 0 && (tag == "O" || starts(prev, tag))) { pred_chunk[type(prev) " " pred_start " " at] = 1; predicted++; pred_start = -1 }
    if (starts(prev, tag)) pred_start = at
  }
}
BEGIN { prev_gold = prev_pred = "O"; gold_start = pred_start = -1; i = 0 }
NF == 0 { chunk("gold", prev_gold, "O", i); chunk("pred", prev_pred, "O", i); close_sentence(); next }
NF != 3 { print "line " NR ": expected 3 columns, got " NF > "/dev/stderr"; bad = 1; exit 1 }
{ chunk("gold", prev_gold, $2, i); chunk("pred", prev_pred, $3, i); prev_gold = $2; prev_pred = $3; i++ }
END {
  if (bad) exit 1
  if (i > 0) { chunk("gold", prev_gold, "O", i); chunk("pred", prev_pred, "O", i); close_sentence() }
  p = predicted ? correct / predicted : 0; r = gold ? correct / gold : 0
  f1 = (p + r > 0) ? 2 * p * r / (p + r) : 0
  printf "%d %d %d %.4f\n", correct, predicted, gold, f1
}
