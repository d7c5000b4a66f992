// Order numbers as callers say them: "one zero four two", "ten forty two", "one thousand
// forty two" and "1042" are all 1042 (the Python example does the same with text2num).

const UNITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];
const TEENS = [
  "ten",
  "eleven",
  "twelve",
  "thirteen",
  "fourteen",
  "fifteen",
  "sixteen",
  "seventeen",
  "eighteen",
  "nineteen",
];
const TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

type Kind = "unit" | "teen" | "tens" | "hundred" | "thousand";

function numberWord(word: string): [Kind, number] | null {
  if (UNITS.includes(word)) return ["unit", UNITS.indexOf(word)];
  if (TEENS.includes(word)) return ["teen", 10 + TEENS.indexOf(word)];
  if (TENS.includes(word)) return ["tens", 20 + 10 * TENS.indexOf(word)];
  if (word === "hundred") return ["hundred", 100];
  if (word === "thousand") return ["thousand", 1000];
  return null;
}

// After which kind of word a word goes on building the same number ("forty" then "two",
// "one thousand" then "forty"); otherwise it starts the next group ("ten" | "forty two").
const CONTINUES: Record<Kind, Kind[]> = {
  unit: ["tens", "hundred", "thousand"],
  teen: ["hundred", "thousand"],
  tens: ["hundred", "thousand"],
  hundred: ["unit", "teen", "tens"],
  thousand: ["unit", "teen", "tens", "hundred"],
};

/** One run of number words as digits: its groups' values side by side. */
function runDigits(words: string[]): string {
  let digits = "";
  let total = 0;
  let small = 0;
  let last: Kind | null = null;
  for (const word of words) {
    const [kind, value] = numberWord(word)!;
    if (last !== null && ((last === "unit" && small === 0) || !CONTINUES[kind].includes(last))) {
      digits += String(total + small); // a zero, or a word that cannot go on: next group
      total = small = 0;
    }
    if (kind === "hundred") small = (small || 1) * 100;
    else if (kind === "thousand") {
      total += (small || 1) * 1000;
      small = 0;
    } else small += value;
    last = kind;
  }
  return last === null ? "" : digits + String(total + small);
}

/** `text` with each run of spoken numbers as one number in digits, and digit groups said
 * apart ("10 42") joined. */
export function spokenNumbers(text: string): string {
  const out: string[] = [];
  let run: string[] = [];
  const flush = () => {
    if (run.length) out.push(runDigits(run));
    run = [];
  };
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const word = token.toLowerCase().replace(/[^a-z]/g, "");
    const previous = run[run.length - 1];
    if (numberWord(word) !== null) {
      run.push(word);
    } else if (word === "and" && (previous === "hundred" || previous === "thousand")) {
      continue; // "one thousand and forty two"
    } else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out.join(" ").replace(/\d+(?:\s+\d+)+/g, (groups) => groups.replace(/\s+/g, ""));
}

/** The order number (four to eight digits) a caller's words mention, if any. */
export function orderNumberOf(text: string): string | undefined {
  return /\b(\d{4,8})\b/.exec(spokenNumbers(text))?.[1];
}
