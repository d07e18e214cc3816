// Reading grade of the plain-language texts, live in the admin as staff type.
// Mirrors trials/readability.py line for line (same regular expressions, same formulas, same
// tables): the grade shown while typing is the one the server computes on save. A browser test
// compares the two on sample texts. Loaded only by the trial form of the admin (Media).
"use strict";

(function () {
  var LETTERS = "a-z\u00e0-\u00f6\u00f8-\u00ff\u0153\u00e6";
  var WORD_RE = new RegExp("[" + LETTERS + "]+(?:['\u2019][" + LETTERS + "]+)*", "g");
  var SENTENCE_END_RE = /[.!?\u2026]+(?=\s|$)|\n+/;
  var VOWELS = {
    en: /[aeiouy]+/g,
    fr: /[aeiouy\u00e0\u00e2\u00e4\u00e9\u00e8\u00ea\u00eb\u00ee\u00ef\u00f4\u00f6\u00f9\u00fb\u00fc\u00ff\u0153\u00e6]+/g,
    it: /[aeiou\u00e0\u00e8\u00e9\u00ec\u00ed\u00f2\u00f3\u00f9\u00fa]+/g,
  };
  var EN_SILENT_ENDINGS = [
    [/[^aeiouy]les?$/, 0],
    [/[^aeiouy]e$/, 1],
    [/[^aeiouysxzh]es$/, 2],
    [/[^aeiouydt]ed$/, 2],
  ];
  var FR_MUTE_E_RE = /[^aeiouy\u00e0\u00e2\u00e4\u00e9\u00e8\u00ea\u00eb\u00ee\u00ef\u00f4\u00f6\u00f9\u00fb\u00fc\u00ff\u0153\u00e6]es?$/;
  var FLESCH_GRADES = [[95, 5], [85, 6], [75, 7], [65, 8.5], [55, 11], [40, 14.5], [15, 17.5]];
  var GULPEASE_GRADES = [[100, 2], [80, 5], [60, 8], [40, 13], [20, 18]];
  var MIN_GRADE = 1, MAX_GRADE = 18;

  function words(text) {
    var found = (text || "").toLowerCase().match(WORD_RE) || [];
    return found.map(function (w) { return w.replace(/['\u2019]/g, ""); });
  }

  function sentenceCount(text) {
    return (text || "").split(SENTENCE_END_RE).filter(function (part) {
      return words(part).length > 0;
    }).length;
  }

  function count(pattern, word) {
    return (word.match(pattern) || []).length;
  }

  function syllables(word, language) {
    word = word.toLowerCase();
    if (language === "en") {
      if (word.length <= 3) return 1;
      for (var i = 0; i < EN_SILENT_ENDINGS.length; i++) {
        if (EN_SILENT_ENDINGS[i][0].test(word)) {
          word = word.slice(0, word.length - EN_SILENT_ENDINGS[i][1]);
          break;
        }
      }
      word = word.replace(/^y/, "");
    } else if (language === "fr" && FR_MUTE_E_RE.test(word) && count(VOWELS.fr, word) > 1) {
      word = word.endsWith("es") ? word.slice(0, -2) : word.slice(0, -1);
    }
    return Math.max(1, count(VOWELS[language] || VOWELS.en, word));
  }

  function interpolate(value, table) {
    var index = 0;
    while (index < table.length - 2 && value < table[index + 1][0]) index++;
    var high = table[index][0], highGrade = table[index][1];
    var low = table[index + 1][0], lowGrade = table[index + 1][1];
    return highGrade + (high - value) * (lowGrade - highGrade) / (high - low);
  }

  function clamp(grade) {
    return Math.round(Math.min(MAX_GRADE, Math.max(MIN_GRADE, grade)) * 10) / 10;
  }

  function grade(text, language) {
    var found = words(text);
    if (!found.length) return null;
    if (["en", "fr", "it"].indexOf(language) < 0) language = "en";
    var wordCount = found.length;
    var sentences = Math.max(1, sentenceCount(text));
    if (language === "it") {
      var letters = found.reduce(function (sum, w) { return sum + w.length; }, 0);
      var gulpease = 89 + (300 * sentences - 10 * letters) / wordCount;
      return clamp(interpolate(gulpease, GULPEASE_GRADES));
    }
    var syllableCount = found.reduce(function (sum, w) { return sum + syllables(w, language); }, 0);
    if (language === "fr") {
      var ease = 207 - 1.015 * wordCount / sentences - 73.6 * syllableCount / wordCount;
      return clamp(interpolate(ease, FLESCH_GRADES));
    }
    return clamp(0.39 * wordCount / sentences + 11.8 * syllableCount / wordCount - 15.59);
  }

  window.TrialFinderReadability = {
    grade: grade, syllables: syllables, words: words, sentenceCount: sentenceCount,
  };

  // The admin: a line under each plain-language field, updated as staff type. Labels come
  // translated from the server (data attributes), so this file needs no catalogue.
  function format(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (match, name) {
      return name in values ? values[name] : match;
    });
  }

  function attach() {
    var fields = document.querySelectorAll("[data-readability-target]");
    if (!fields.length) return;
    var language = document.getElementById("id_plain_language");
    var outputs = [];
    fields.forEach(function (field) {
      var output = document.createElement("p");
      output.className = "readability-live";
      output.setAttribute("aria-live", "polite");
      output.id = field.id + "_readability";
      field.setAttribute("aria-describedby",
        ((field.getAttribute("aria-describedby") || "") + " " + output.id).trim());
      field.insertAdjacentElement("afterend", output);
      outputs.push([field, output]);
    });
    function update() {
      outputs.forEach(function (pair) {
        var field = pair[0], output = pair[1];
        var target = parseFloat(field.dataset.readabilityTarget);
        var value = grade(field.value, language ? language.value : "en");
        output.classList.remove("readability-warning");
        if (value === null) {
          output.textContent = "";
          return;
        }
        var values = { grade: value.toFixed(1), target: field.dataset.readabilityTarget };
        output.textContent = format(field.dataset.readabilityLabel, values);
        if (value > target) {
          output.textContent += " " + format(field.dataset.readabilityWarning, values);
          output.classList.add("readability-warning");
        }
      });
    }
    fields.forEach(function (field) { field.addEventListener("input", update); });
    if (language) language.addEventListener("change", update);
    update();
  }

  if (document.readyState !== "loading") attach();
  else document.addEventListener("DOMContentLoaded", attach);
})();
