package driver

// H1CheckIdleAfter is h1CheckIdleAfter, for the external tests.
const H1CheckIdleAfter = h1CheckIdleAfter
