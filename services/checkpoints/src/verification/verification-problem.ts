/** One reason an upload does not match its manifest; a rejected commit lists them all. */
export interface VerificationProblem {
  file: string;
  part?: number;
  kind: 'missing' | 'truncated' | 'oversized' | 'altered' | 'manifest';
  message: string;
}

export function describeProblems(problems: VerificationProblem[]): string {
  const shown = problems.slice(0, 5).map((p) => p.message);
  const more = problems.length > shown.length ? `; and ${problems.length - shown.length} more` : '';
  return `${shown.join('; ')}${more}`;
}

export function missingProblem(file: string, part: number): VerificationProblem {
  return { file, part, kind: 'missing', message: `${file} part ${part} is not in the store (missing)` };
}

export function sizeProblem(file: string, part: number, stored: number, expected: number): VerificationProblem {
  const kind = stored < expected ? 'truncated' : 'oversized';
  return { file, part, kind, message: `${file} part ${part} has ${stored} bytes in the store, the manifest says ${expected} (${kind})` };
}

export function hashProblem(file: string, stored: string, expected: string): VerificationProblem {
  return {
    file,
    kind: 'altered',
    message: `${file}: sha256 of the stored bytes is ${stored.slice(0, 12)}…, the manifest says ${expected.slice(0, 12)}… (altered)`,
  };
}
