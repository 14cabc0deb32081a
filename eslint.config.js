// ESLint flat config for Parley's browser code: plain ES modules, no build step. The pages
// (static/js), the SDK (static/sdk) and the example host app's page (examples/chat-app).
import js from "@eslint/js";
import globals from "globals";

export default [
  {
    files: [
      "src/parley/static/js/**/*.js",
      "src/parley/static/sdk/**/*.js",
      "examples/chat-app/static/**/*.js",
    ],
    ...js.configs.recommended,
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
  },
];
