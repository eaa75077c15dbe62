// The wizard's prompts: @inquirer's select/checkbox/confirm, plus a text prompt that checks the
// answer as it is typed and shows the verdict under it. Every prompt is cancelled by Ctrl-C or
// Escape, which becomes one WizardCancelled error (the wizard then writes nothing).
import { emitKeypressEvents } from 'node:readline';
import { createPrompt, isEnterKey, isTabKey, makeTheme, useKeypress, usePrefix, useState } from '@inquirer/core';
import { checkbox, confirm, select } from '@inquirer/prompts';

/** The admin pressed Ctrl-C or Escape. */
export class WizardCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'WizardCancelled';
  }
}

/** What a live check says about the text typed so far: an error (blocks Enter) or a hint. */
export interface Verdict {
  error?: string;
  hint?: string;
}

interface LiveConfig {
  message: string;
  default?: string;
  /** Called on every keystroke with the answer as it stands (the default when nothing is typed). */
  check: (answer: string) => Verdict;
  /** An empty answer is an answer (with this hint shown while nothing is typed). */
  optional?: string;
}

/** A text prompt whose answer is checked on every keystroke; Enter accepts only an answer without error. Tab copies the default in to edit it. */
const liveInput = createPrompt<string, LiveConfig>((config, done) => {
  const theme = makeTheme({});
  const [status, setStatus] = useState<'idle' | 'done'>('idle');
  const [value, setValue] = useState('');
  const [tried, setTried] = useState(false);
  const prefix = usePrefix({ status, theme });
  const answer = value || config.default || '';
  const verdict: Verdict = answer ? config.check(answer) : config.optional ? { hint: config.optional } : { error: 'an answer is needed' };
  useKeypress((key, rl) => {
    if (status !== 'idle') return;
    if (isEnterKey(key)) {
      if (!verdict.error) {
        setValue(answer);
        setStatus('done');
        done(answer);
      } else {
        // readline cleared its line on Enter: put the text back to be fixed.
        rl.write(value);
        setTried(true);
      }
    } else if (isTabKey(key) && !value && config.default) {
      rl.clearLine(0);
      rl.write(config.default);
      setValue(config.default);
    } else setValue(rl.line);
  });
  const message = theme.style.message(config.message, status);
  if (status === 'done') return `${prefix} ${message} ${theme.style.answer(value)}`;
  const def = !value && config.default ? ` ${theme.style.defaultAnswer(config.default)}` : '';
  // Nothing typed yet: a hint, not an error (unless Enter was pressed on nothing).
  const quiet = !answer && !tried;
  const below = verdict.error && !quiet ? theme.style.error(verdict.error) : verdict.hint ? theme.style.help(verdict.hint) : '';
  return [`${prefix} ${message}${def} ${value}`, below];
});

const isCancel = (e: unknown) => e instanceof Error && (e.name === 'ExitPromptError' || e.name === 'AbortPromptError' || e.name === 'CancelPromptError');

/** Runs one prompt with Escape wired to cancel it; Ctrl-C and Escape both become WizardCancelled. */
async function cancellable<T>(run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  emitKeypressEvents(process.stdin);
  const onKey = (_: unknown, key?: { name?: string }) => {
    if (key?.name === 'escape') ac.abort();
  };
  process.stdin.on('keypress', onKey);
  try {
    return await run(ac.signal);
  } catch (e) {
    if (isCancel(e)) throw new WizardCancelled();
    throw e;
  } finally {
    process.stdin.off('keypress', onKey);
  }
}

/** One choice of a list: what is shown, and the value it stands for. */
export interface Choice<T> {
  name: string;
  value: T;
  description?: string;
  checked?: boolean;
  /** What the answer line shows once chosen (default: the name). */
  short?: string;
}

/** The prompts the wizard uses; each throws WizardCancelled on Ctrl-C or Escape. */
export const ask = {
  text: (message: string, check: LiveConfig['check'], dflt?: string, optional?: string) =>
    cancellable((signal) => liveInput({ message, check, ...(dflt ? { default: dflt } : {}), ...(optional ? { optional } : {}) }, { signal })),
  select: <T>(message: string, choices: Choice<T>[], dflt?: T) =>
    cancellable((signal) => select<T>({ message, choices, pageSize: 12, ...(dflt !== undefined ? { default: dflt } : {}) }, { signal })),
  checkbox: <T>(message: string, choices: Choice<T>[]) => cancellable((signal) => checkbox<T>({ message, choices, pageSize: 12, required: true }, { signal })),
  confirm: (message: string, dflt = false) => cancellable((signal) => confirm({ message, default: dflt }, { signal })),
};
