// The example's few words, in English and Simplified Chinese (picked from the browser's
// language). Elements opt in with data-text; scripts use word().

/** @type {Record<string, Record<string, string>>} */
const WORDS = {
  en: {
    signIn: 'Sign in',
    user: 'User',
    password: 'Password',
    loginFailed: 'Wrong name or password.',
    logout: 'Log out',
    contacts: 'Contacts',
    embedLink: "Parley's own phone page",
    sdkLink: 'Back to the chat',
    videoCall: 'Video call',
    voiceCall: 'Voice call',
    accept: 'Accept',
    decline: 'Decline',
    mute: 'Mute',
    unmute: 'Unmute',
    hangup: 'Hang up',
    callContact: 'Call',
    online: 'online',
    offline: 'offline',
    connecting: 'Connecting to the call server…',
    ready: 'Ready for calls.',
    unreachable: 'The call server is out of reach. Trying again…',
    refused: 'The call server refused your sign-in. Reload the page.',
    calling: 'Calling {name}…',
    ringing: "{name}'s phone is ringing…",
    incoming: '{name} is calling you.',
    inCall: 'In a call with {name}.',
    reconnecting: 'Reconnecting…',
    ended: 'Call with {name} ended: {reason}.',
    'reason.hangup': 'hung up',
    'reason.declined': 'declined',
    'reason.busy': 'busy',
    'reason.no-answer': 'no answer',
    'reason.cancelled': 'cancelled',
    'reason.offline': 'not online',
    'reason.connection-lost': 'connection lost',
    'reason.answered-elsewhere': 'answered on another device',
    'reason.ended-by-app': 'ended by the app',
    'reason.failed': 'could not be set up',
  },
  'zh-CN': {
    signIn: '登录',
    user: '用户',
    password: '密码',
    loginFailed: '用户名或密码错误。',
    logout: '退出登录',
    contacts: '联系人',
    embedLink: 'Parley 自带的电话页面',
    sdkLink: '返回聊天',
    videoCall: '视频通话',
    voiceCall: '语音通话',
    accept: '接听',
    decline: '拒绝',
    mute: '静音',
    unmute: '取消静音',
    hangup: '挂断',
    callContact: '呼叫',
    online: '在线',
    offline: '离线',
    connecting: '正在连接通话服务器…',
    ready: '可以通话了。',
    unreachable: '无法连接通话服务器，正在重试…',
    refused: '通话服务器拒绝了你的登录，请刷新页面。',
    calling: '正在呼叫 {name}…',
    ringing: '{name} 的电话正在响铃…',
    incoming: '{name} 正在呼叫你。',
    inCall: '正在与 {name} 通话。',
    reconnecting: '正在重新连接…',
    ended: '与 {name} 的通话已结束：{reason}。',
    'reason.hangup': '已挂断',
    'reason.declined': '对方拒绝',
    'reason.busy': '对方忙',
    'reason.no-answer': '无人接听',
    'reason.cancelled': '已取消',
    'reason.offline': '对方不在线',
    'reason.connection-lost': '连接中断',
    'reason.answered-elsewhere': '已在其他设备上接听',
    'reason.ended-by-app': '被应用结束',
    'reason.failed': '无法建立通话',
  },
};

const language = (navigator.languages ?? [navigator.language]).some((tag) => tag?.toLowerCase().startsWith('zh'))
  ? 'zh-CN'
  : 'en';

/** A word, its {placeholders} filled in. @param {string} key @param {Record<string, string>} [values] */
export function word(key, values = {}) {
  const text = WORDS[language][key] ?? WORDS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => values[name] ?? '');
}

/** Puts the words into every [data-text] element under `root`. @param {ParentNode} [root] */
export function translate(root = document) {
  document.documentElement.lang = language;
  for (const element of /** @type {NodeListOf<HTMLElement>} */ (root.querySelectorAll('[data-text]'))) {
    element.textContent = word(/** @type {string} */ (element.dataset.text));
  }
}

translate();
