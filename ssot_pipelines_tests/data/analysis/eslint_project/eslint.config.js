export default [
  {
    files: ["**/*.js"],
    languageOptions: { sourceType: "module" },
    linterOptions: { reportUnusedDisableDirectives: "warn" },
    rules: { eqeqeq: "error", "no-unused-vars": "warn", "no-console": "off" },
  },
];
