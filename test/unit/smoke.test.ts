import { expect } from 'chai';
import { formatDiagnostic } from '../../src/errors.js';

describe('errors', () => {
  it('formats a diagnostic as file:line:col: message', () => {
    expect(formatDiagnostic({ file: 'a.yaml', line: 3, col: 5, message: 'bad' })).to.equal('a.yaml:3:5: bad');
  });
});
