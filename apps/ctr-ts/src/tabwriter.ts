// Column alignment exactly as Go's text/tabwriter (no flags), so ctr-ts prints what ctr
// prints. A cell ends with a tab; the text after a line's last tab is not aligned.
// Columns align over blocks of consecutive lines that have that column; a line
// without any tab ends every block.

interface Cell {
  text: string;
  width: number;
}

export class TabWriter {
  private lines: Cell[][] = [];
  private unterminated = false;
  private out = '';
  private partial = '';

  constructor(
    private readonly minwidth = 4,
    private readonly padding = 4,
    private readonly padchar = ' ',
    private readonly tabwidth = 8,
  ) {}

  /** Appends text; complete lines are buffered until a tab-free line or flush(). */
  write(text: string): void {
    const parts = (this.partial + text).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      const cells = line.split('\t').map((t) => ({ text: t, width: [...t].length }));
      this.lines.push(cells);
      if (cells.length === 1) this.flushLines();
    }
  }

  /** `fmt.Fprintln(w, a, b, …)`: operands joined by spaces, then a newline. */
  println(...operands: Array<string | number>): void {
    this.write(`${operands.join(' ')}\n`);
  }

  /** Everything written so far, aligned. */
  flush(): string {
    if (this.partial) {
      this.lines.push(this.partial.split('\t').map((t) => ({ text: t, width: [...t].length })));
      this.partial = '';
      this.unterminated = true;
    }
    this.flushLines();
    const out = this.out;
    this.out = '';
    return out;
  }

  private flushLines(): void {
    this.format([], 0, this.lines.length);
    this.lines = [];
    this.unterminated = false;
  }

  private format(widths: number[], line0: number, line1: number): void {
    const column = widths.length;
    let start = line0;
    for (let i = start; i < line1; i++) {
      if (column >= this.lines[i]!.length - 1) continue;
      this.writeLines(widths, start, i);
      start = i;
      let width = this.minwidth;
      for (; i < line1; i++) {
        const line = this.lines[i]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + this.padding);
      }
      this.format([...widths, width], start, i);
      start = i;
      i--;
    }
    this.writeLines(widths, start, line1);
  }

  /** Go's writePadding: with a tab padchar, the cell is widened to a tab stop with tabs. */
  private pad(textw: number, cellw: number): string {
    if (this.padchar !== '\t') return this.padchar.repeat(cellw - textw);
    const stop = Math.ceil(cellw / this.tabwidth) * this.tabwidth;
    return '\t'.repeat(Math.ceil((stop - textw) / this.tabwidth));
  }

  private writeLines(widths: number[], line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      line.forEach((cell, j) => {
        this.out += cell.text;
        if (j < widths.length && j < line.length - 1) this.out += this.pad(cell.width, widths[j]!);
      });
      if (!(this.unterminated && i === this.lines.length - 1)) this.out += '\n';
    }
  }
}
