// eslint-disable-next-line no-console
const value = 1;
export function same(a) {
  return a == value; // eslint-disable-line no-debugger
}
const unused = 2;
