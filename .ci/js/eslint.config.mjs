// ESLint flat config for the browser code under static/ (overlays, bus.js, the gallery).
// Run by tests/test_js_lint.py: `eslint --config .ci/js/eslint.config.mjs static`.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2020,
      // Classic <script> files (OBS's browser runs them as-is, no bundler): shared names go
      // through window.DXBus.
      sourceType: "script",
      globals: { ...globals.browser, DXBus: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }],
      "no-var": "off",
      eqeqeq: ["error", "always", { null: "ignore" }],
      "no-implicit-globals": "error",
      strict: ["error", "safe"],
    },
  },
];
