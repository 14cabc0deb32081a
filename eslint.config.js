// ESLint flat config for Parley's browser code: plain ES modules, no build step.
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: ["src/parley/static/js/**/*.js"],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
];
